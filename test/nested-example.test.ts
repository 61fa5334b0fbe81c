/**
 * examples/nested-paging.mjs (shown in the README) runs against the built
 * package and prints the 2-D translation and the nested page fault. The
 * expected lines are derived by hand in the example's comments: guest-linear
 * 0x400010 → guest-physical 0x200010 (guest tables) → host-physical 0x5000010
 * (nested tables); a write after the nested page turns read-only is an NPF
 * with P|RW|US and bit 32 (the final gPA), at gPA 0x200010.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const example = fileURLToPath(new URL("../examples/nested-paging.mjs", import.meta.url));

describe("examples/nested-paging.mjs", () => {
  it("prints the README's output", () => {
    const p = spawnSync(process.execPath, [example], { encoding: "utf8" });
    expect(p.stderr).toBe("");
    expect(p.status).toBe(0);
    expect(p.stdout.trim().split("\n")).toEqual([
      "guest-linear 0x400010 -> guest-physical 0x200010 -> host-physical 0x5000010",
      "host memory at 0x5000010: 0x1122334455667788",
      "write -> #VMEXIT(NPF): EXITINFO1 0x100000007, EXITINFO2 0x200010",
    ]);
  });
});
