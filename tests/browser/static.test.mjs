// static.test.mjs - the web module's static files over HTTP against the
// real node: what is served (with which Content-Type, without a key) and
// what is not (names that could climb out of the root, hidden files,
// extensions not served, other methods).  Raw requests: fetch() would
// normalise "/../" before sending it.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { Node, REPO } from "./node.mjs";

let node;
before(async () => { node = await new Node().start(); });
after(async () => { await node?.stop(); });

function raw(method, path) {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: node.port, method, path }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => { body += c; });
      res.on("end", () => resolve({ status: res.statusCode, type: res.headers["content-type"],
        body }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("the demo's files are served as they are on disk, with their type, without a key", async () => {
  for (const [file, type] of [["index.html", "text/html; charset=utf-8"],
    ["app.js", "text/javascript; charset=utf-8"], ["style.css", "text/css; charset=utf-8"]]) {
    const r = await raw("GET", `/web/auth-demo/${file}`);
    assert.equal(r.status, 200, file);
    assert.equal(r.type, type);
    assert.equal(r.body, readFileSync(join(REPO, "web/auth-demo", file), "utf8"));
  }
});

test("nothing outside the root, hidden or of another type is served", async () => {
  for (const path of ["/web/auth-demo/missing.html", "/web/auth-demo/../../node.json",
    "/web/..%2f..%2fnode.json", "/web/auth-demo/..%2fapp.js", "/web/auth-demo/.hidden.js",
    "/web/../auth-demo/index.html", "/web/auth-demo/%2e%2e", "/web/auth-demo/index",
    "/web/auth-demo/app.js.bak", "/web/missing-app/index.html", "/web/auth-demo",
    "/web/auth-demo/", "/web/auth-demo/index.html/x"]) {
    const r = await raw("GET", path);
    assert.equal(r.status, 404, path);
    assert.equal(JSON.parse(r.body).error.code, "not_found", path);
  }
});

test("only GET", async () => {
  const r = await raw("DELETE", "/web/auth-demo/index.html");
  assert.equal(r.status, 405);
});
