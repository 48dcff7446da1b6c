// scan.js - scan to pay: the camera (getUserMedia, the back camera on a
// phone) read frame by frame by BarcodeDetector where the browser has it,
// else by jsQR (vendor/jsQR.js, loaded on first use); the EMV payload goes to
// POST /v1/wallet/scan, the order is shown, and Pay opens the confirmation
// sheet with the order's payment intent.
import * as api from "./api.js";
import { $, busy, notice } from "./ui.js";
import { confirmSheet } from "./sheet.js";

let stream = null;
let order = null;
let running = false;

function loadJsQR() {
  if (window.jsQR) return Promise.resolve(window.jsQR);
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = new URL("vendor/jsQR.js", import.meta.url).href;
    s.onload = () => resolve(window.jsQR);
    s.onerror = () => reject(new Error("the QR reader did not load"));
    document.head.append(s);
  });
}

async function decoder() {
  if ("BarcodeDetector" in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) {
        const bd = new window.BarcodeDetector({ formats: ["qr_code"] });
        return async (video) => (await bd.detect(video))[0]?.rawValue || null;
      }
    } catch { /* fall back to jsQR */ }
  }
  const jsQR = await loadJsQR();
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  return async (video) => {
    const w = video.videoWidth;
    const hgt = video.videoHeight;
    if (!w || !hgt) return null;
    canvas.width = w;
    canvas.height = hgt;
    ctx.drawImage(video, 0, 0, w, hgt);
    const img = ctx.getImageData(0, 0, w, hgt);
    return jsQR(img.data, w, hgt, { inversionAttempts: "dontInvert" })?.data || null;
  };
}

async function showOrder(payload) {
  order = await api.scan(payload);
  stop();
  $("scan-merchant").textContent = order.merchant_name;
  $("scan-amount").textContent = api.money(order.amount, order.currency);
  $("scan-description").textContent = order.description || "";
  $("scan-order").hidden = false;
  $("scan-camera").hidden = true;
  $("scan-order").dataset.order = order.id;
  $("scan-status").textContent = `Order from ${order.merchant_name}.`;
  $("scan-pay").focus();
}

// Reads frames until a payload the node takes; a payload it refused is not
// sent again for 3 s (the camera sees it in every frame).
async function loop(video, read) {
  let bad = null;
  let badAt = 0;
  while (running) {
    try {
      const text = await read(video);
      if (text && running && !(text === bad && Date.now() - badAt < 3000)) {
        try {
          await showOrder(text);
          return;
        } catch (err) {
          notice(err);
          bad = text;
          badAt = Date.now();
        }
      }
    } catch { /* a frame that could not be read */ }
    await new Promise((r) => setTimeout(r, 150));
  }
}

export async function start() {
  if (running) return;
  order = null;
  $("scan-order").hidden = true;
  $("scan-camera").hidden = false;
  $("scan-status").textContent = "Point the camera at the shop's QR code.";
  if (!navigator.mediaDevices?.getUserMedia) {
    $("scan-status").textContent = "This browser has no camera access: paste the code below.";
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia(
      { video: { facingMode: "environment" }, audio: false });
    const video = $("scan-video");
    video.srcObject = stream;
    await video.play();
    running = true;
    loop(video, await decoder());
  } catch (err) {
    notice(err);
    $("scan-status").textContent = "The camera is not available: paste the code below.";
  }
}

export function stop() {
  running = false;
  if (stream) for (const t of stream.getTracks()) t.stop();
  stream = null;
  $("scan-video").srcObject = null;
}

async function pay(e) {
  if (!order) return;
  const r = await busy(e.currentTarget, () => api.payOrder(order.id));
  if (!r) return;
  const done = await confirmSheet(r.intent, r.publicKey, order.description || order.merchant_name);
  if (done) {
    $("scan-order").hidden = true;
    $("scan-status").textContent = `Paid ${order.merchant_name}.`;
    location.hash = "#/home";
  }
}

export function initScan() {
  $("scan-pay").addEventListener("click", pay);
  $("scan-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("scan-text").value.trim();
    if (text) await busy(e.submitter, () => showOrder(text));
  });
}
