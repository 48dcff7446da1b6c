// quipu.d.ts - the types of quipu.mjs live in quipu.d.mts (the name TypeScript looks
// for beside an .mjs file); this re-exports them for tools that look for quipu.d.ts.
export * from "./quipu.mjs";
export { default } from "./quipu.mjs";
