// y4m.mjs - a video of a QR code for Chromium's fake camera
// (--use-fake-device-for-media-stream --use-file-for-fake-video-capture=…):
// the PNG is drawn in a page's canvas (white margin, square pixels kept
// sharp), its pixels read back and converted to YUV 4:2:0 (BT.601 full
// range, "C420jpeg"), and written as a YUV4MPEG2 file of a few identical
// frames, which Chromium plays in a loop.
import { writeFileSync } from "node:fs";

export async function qrVideo(browser, png, path, { width = 640, height = 480, frames = 5 } = {}) {
  const page = await browser.newPage();
  try {
    const b64 = await page.evaluate(async ({ src, width, height }) => {
      const img = new Image();
      img.src = src;
      await img.decode();
      const canvas = document.createElement("canvas");
      canvas.width = width;
      canvas.height = height;
      const ctx = canvas.getContext("2d");
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, width, height);
      ctx.imageSmoothingEnabled = false;
      const side = Math.floor(Math.min(width, height) * 0.8);
      ctx.drawImage(img, (width - side) >> 1, (height - side) >> 1, side, side);
      const rgba = ctx.getImageData(0, 0, width, height).data;
      const ySize = width * height;
      const cw = width >> 1;
      const out = new Uint8Array(ySize + 2 * cw * (height >> 1));
      const clamp = (v) => Math.max(0, Math.min(255, Math.round(v)));
      for (let i = 0; i < ySize; i++) {
        const [r, g, b] = [rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]];
        out[i] = clamp(0.299 * r + 0.587 * g + 0.114 * b);
      }
      for (let y = 0; y < height >> 1; y++) {
        for (let x = 0; x < cw; x++) {
          let r = 0; let g = 0; let b = 0;
          for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
            const p = 4 * ((2 * y + dy) * width + 2 * x + dx);
            r += rgba[p] / 4; g += rgba[p + 1] / 4; b += rgba[p + 2] / 4;
          }
          out[ySize + y * cw + x] = clamp(128 - 0.168736 * r - 0.331264 * g + 0.5 * b);
          out[ySize + cw * (height >> 1) + y * cw + x] =
            clamp(128 + 0.5 * r - 0.418688 * g - 0.081312 * b);
        }
      }
      let s = "";
      for (let i = 0; i < out.length; i += 0x8000) {
        s += String.fromCharCode(...out.subarray(i, i + 0x8000));
      }
      return btoa(s);
    }, { src: `data:image/png;base64,${Buffer.from(png).toString("base64")}`, width, height });
    const frame = Buffer.from(b64, "base64");
    const parts = [Buffer.from(`YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\n`)];
    for (let i = 0; i < frames; i++) parts.push(Buffer.from("FRAME\n"), frame);
    writeFileSync(path, Buffer.concat(parts));
  } finally {
    await page.close();
  }
}
