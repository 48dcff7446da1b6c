// authenticator.mjs - a software passkey for the tests: ES256 (P-256) keys,
// attestation "none", user presence and verification set. create() and get()
// take the options that webauthn.creationOptionsFromJSON/requestOptionsFromJSON
// produce (buffers) and answer objects shaped like a browser's
// PublicKeyCredential (ArrayBuffers, getTransports(), ...), so the tests run
// webauthn.credentialToJSON on them exactly as a page would.
import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";

const sha256 = (b) => createHash("sha256").update(b).digest();
const ab = (buf) => buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);

// Just enough CBOR (RFC 8949) for an attestation object and a COSE key.
function cborHead(major, n) {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 256) return Buffer.from([(major << 5) | 24, n]);
  const b = Buffer.alloc(3);
  b[0] = (major << 5) | 25;
  b.writeUInt16BE(n, 1);
  return b;
}
function cbor(v) {
  if (Number.isInteger(v)) return v >= 0 ? cborHead(0, v) : cborHead(1, -1 - v);
  if (typeof v === "string") {
    const b = Buffer.from(v, "utf8");
    return Buffer.concat([cborHead(3, b.length), b]);
  }
  if (Buffer.isBuffer(v)) return Buffer.concat([cborHead(2, v.length), v]);
  if (v instanceof Map) {
    const parts = [cborHead(5, v.size)];
    for (const [k, x] of v) parts.push(cbor(k), cbor(x));
    return Buffer.concat(parts);
  }
  throw new TypeError(`cbor: ${typeof v}`);
}

export class SoftAuthenticator {
  constructor(origin) {
    this.origin = origin;
    this.credentials = []; // {id, rpId, userHandle, privateKey, signCount}
  }

  async create({ publicKey: o }) {
    const id = randomBytes(16);
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = publicKey.export({ format: "jwk" });
    const cose = cbor(new Map([[1, 2], [3, -7], [-1, 1],
      [-2, Buffer.from(jwk.x, "base64url")], [-3, Buffer.from(jwk.y, "base64url")]]));
    const rpId = o.rp.id || new URL(this.origin).hostname;
    const cred = { id, rpId, userHandle: Buffer.from(o.user.id), privateKey, signCount: 0 };
    this.credentials.push(cred);
    const len = Buffer.alloc(2);
    len.writeUInt16BE(id.length);
    const authData = Buffer.concat([sha256(rpId), Buffer.from([0x45, 0, 0, 0, 0]),
      Buffer.alloc(16), len, id, cose]);
    const clientData = this.clientData("webauthn.create", o.challenge);
    const att = cbor(new Map([["fmt", "none"], ["attStmt", new Map()], ["authData", authData]]));
    return {
      id: id.toString("base64url"), rawId: ab(id), type: "public-key",
      authenticatorAttachment: "platform",
      getClientExtensionResults: () => ({ credProps: { rk: true } }),
      response: {
        clientDataJSON: ab(clientData), attestationObject: ab(att),
        getTransports: () => ["internal"], getAuthenticatorData: () => ab(authData),
        getPublicKeyAlgorithm: () => -7,
        getPublicKey: () => ab(publicKey.export({ format: "der", type: "spki" })),
      },
    };
  }

  async get({ publicKey: o }) {
    const allowed = (o.allowCredentials || []).map((d) => Buffer.from(d.id).toString("base64url"));
    const cred = this.credentials.find((c) => (allowed.length === 0
      || allowed.includes(c.id.toString("base64url"))) && (!o.rpId || o.rpId === c.rpId));
    if (!cred) throw new Error("NotAllowedError: no credential for these options");
    cred.signCount += 1;
    const count = Buffer.alloc(4);
    count.writeUInt32BE(cred.signCount);
    const authData = Buffer.concat([sha256(cred.rpId), Buffer.from([0x05]), count]);
    const clientData = this.clientData("webauthn.get", o.challenge);
    const signed = Buffer.concat([authData, sha256(clientData)]);
    const signature = sign("sha256", signed, cred.privateKey);
    return {
      id: cred.id.toString("base64url"), rawId: ab(cred.id), type: "public-key",
      authenticatorAttachment: "platform", getClientExtensionResults: () => ({}),
      response: { clientDataJSON: ab(clientData), authenticatorData: ab(authData),
        signature: ab(signature), userHandle: ab(cred.userHandle) },
    };
  }

  clientData(type, challenge) {
    return Buffer.from(JSON.stringify({ type,
      challenge: Buffer.from(challenge).toString("base64url"), origin: this.origin,
      crossOrigin: false }));
  }
}
