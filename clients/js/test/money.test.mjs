// money.test.mjs - toMajor/toMinor: ISO 4217 decimals, BigInt exactness past
// 2^53, and the refusals (floats, too many decimals, non-digits).
import { test } from "node:test";
import assert from "node:assert/strict";
import { toMajor, toMinor, currencyDecimals } from "../quipu.mjs";

test("decimals per ISO 4217: JPY 0, USD 2, KWD/BHD 3, CLF 4; numeric codes", () => {
  assert.equal(currencyDecimals("JPY"), 0);
  assert.equal(currencyDecimals("USD"), 2);
  assert.equal(currencyDecimals("KWD"), 3);
  assert.equal(currencyDecimals("BHD"), 3);
  assert.equal(currencyDecimals("CLF"), 4);
  assert.equal(currencyDecimals(840), 2);
  assert.equal(currencyDecimals("392"), 0);
  assert.equal(currencyDecimals(414), 3);
  assert.throws(() => currencyDecimals("usd"), RangeError);
  assert.throws(() => currencyDecimals(999), RangeError);
  assert.throws(() => currencyDecimals(undefined), RangeError);
});

test("toMajor", () => {
  assert.equal(toMajor("1234", "USD"), "12.34");
  assert.equal(toMajor("5", "USD"), "0.05");
  assert.equal(toMajor("0", "USD"), "0.00");
  assert.equal(toMajor(1234n, "JPY"), "1234");
  assert.equal(toMajor("0", "JPY"), "0");
  assert.equal(toMajor("5", "KWD"), "0.005");
  assert.equal(toMajor("12345", "BHD"), "12.345");
  assert.equal(toMajor("-5", "USD"), "-0.05");
  assert.equal(toMajor(840 * 100, 840), "840.00");
  // Past 2^53 and up to u128: exact.
  assert.equal(toMajor("9007199254740993", "USD"), "90071992547409.93");
  const u128max = (2n ** 128n - 1n).toString();
  assert.equal(toMajor(u128max, "KWD"), "340282366920938463463374607431768211.455");
  assert.throws(() => toMajor("1.5", "USD"), RangeError);
  assert.throws(() => toMajor(1.5, "USD"), RangeError);
  assert.throws(() => toMajor(2 ** 60, "USD"), RangeError);
  assert.throws(() => toMajor("12", "XYZ1"), RangeError);
});

test("toMinor", () => {
  assert.equal(toMinor("12.34", "USD"), "1234");
  assert.equal(toMinor("12.3", "USD"), "1230");
  assert.equal(toMinor("12", "USD"), "1200");
  assert.equal(toMinor("0.05", "USD"), "5");
  assert.equal(toMinor("007.50", "USD"), "750");
  assert.equal(toMinor("0", "USD"), "0");
  assert.equal(toMinor("1500", "JPY"), "1500");
  assert.equal(toMinor("1.234", "KWD"), "1234");
  assert.equal(toMinor("0.001", "BHD"), "1");
  assert.equal(toMinor("-0.05", "USD"), "-5");
  assert.equal(toMinor("-0.00", "USD"), "0");
  assert.equal(toMinor("90071992547409.93", "USD"), "9007199254740993");
  assert.equal(toMinor("340282366920938463463374607431768211.455", "KWD"),
    (2n ** 128n - 1n).toString());
  for (const v of ["1.5", "0.1"]) assert.throws(() => toMinor(v, "JPY"), /decimals/);
  assert.throws(() => toMinor("1.2345", "KWD"), /decimals/);
  assert.throws(() => toMinor("12.345", "USD"), /has 3 decimals; USD allows 2/);
  for (const v of ["", "1.", ".5", "1,000", "1 000", " 1", "1e3", "0x10", "+1", "1.2.3", "--1",
    "١٢", "NaN", "Infinity"]) {
    assert.throws(() => toMinor(v, "USD"), RangeError, JSON.stringify(v));
  }
  assert.throws(() => toMinor(12.34, "USD"), TypeError);
  assert.throws(() => toMinor(12n, "USD"), TypeError);
  assert.throws(() => toMinor("1", "dollars"), RangeError);
});

test("round trip across currencies", () => {
  for (const [cur, major] of [["USD", "1.01"], ["JPY", "999"], ["KWD", "0.999"], ["EUR", "0.10"]]) {
    assert.equal(toMajor(toMinor(major, cur), cur), major);
  }
});
