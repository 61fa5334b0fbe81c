// The benchmark suite's minimal baseline is the shared yardstick, byte for
// byte (issue 12): bench/baselines/minimal-walker.mjs must equal
// ../shared/perf/minimal-walker.mjs (relative to the repository root). People
// who clone the repository alone have no ../shared: the check is skipped then,
// saying so.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const copy = join(root, "bench", "baselines", "minimal-walker.mjs");
const shared = resolve(root, "..", "shared", "perf", "minimal-walker.mjs");
const haveShared = existsSync(shared);

describe("benchmark yardstick", () => {
  it("bench/baselines/minimal-walker.mjs exists", () => {
    expect(existsSync(copy)).toBe(true);
  });

  it.skipIf(!haveShared)(`is byte-identical to ${haveShared ? shared : "../shared/perf/minimal-walker.mjs (absent: skipped)"}`, () => {
    const a = readFileSync(copy);
    const b = readFileSync(shared);
    if (!a.equals(b)) {
      let i = 0;
      while (i < a.length && i < b.length && a[i] === b[i]) i++;
      const line = a.subarray(0, i).toString("latin1").split("\n").length;
      expect.fail(`bench/baselines/minimal-walker.mjs differs from ${shared} (first difference at byte ${i}, line ${line}; sizes ${a.length} and ${b.length}): copy the shared file again, do not edit the copy`);
    }
  });

  if (!haveShared) {
    it("notes that the byte-for-byte check was skipped", () => {
      console.warn(`bench-yardstick: ${shared} is absent (a clone without ../shared/): the byte-for-byte check of bench/baselines/minimal-walker.mjs is skipped`);
    });
  }
});
