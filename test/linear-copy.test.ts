/**
 * copyFromLinear (src/phys/linear-copy.ts) splits some copies into 2 KiB
 * pieces for speed: whatever it decides, the bytes are those of one copy.
 */
import { describe, it, expect } from "vitest";
import { copyFromLinear } from "../src/phys/linear-copy.js";

/** The first index where a and b differ, -1 when they are equal (toEqual on megabytes is slow). */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe("copyFromLinear", () => {
  const mem = new Uint8Array(2 << 20);
  for (let i = 0; i < mem.length; i++) mem[i] = (i * 7 + (i >> 11)) & 255;

  it("copies exactly the bytes asked for, in one call or in pieces, into small and large buffers", () => {
    // Lengths around each rule's edges; hosts and offsets that make the large buffer look aliased (distance 1-63) or not.
    const lens = [0, 1, 2047, 2048, 2049, 4095, 4096, 4097, 8192, 65536 + 5, 512 * 1024 - 1, 512 * 1024];
    for (const len of lens) {
      for (const [size, at, host] of [
        [len + 100, 7, 0x1000],
        [1 << 20, 0, 0x3000], // large, 16 bytes in: distance 16 (aliased)
        [1 << 20, 4096, 0x3000 + 100], // large, distance 4012 (not)
        [1 << 20, 64, 0x3000 + 17], // large, distance 63
      ] as const) {
        if (at + len > size) continue;
        const out = new Uint8Array(size).fill(0xee);
        copyFromLinear(mem, host, len, out, at);
        const want = new Uint8Array(size).fill(0xee);
        want.set(mem.subarray(host, host + len), at);
        expect(firstDifference(out, want), `len ${len}, at ${at}, host ${host}`).toBe(-1);
      }
    }
  });

  it("writes into a subarray at its own offset", () => {
    const backing = new Uint8Array(300_000).fill(1);
    const view = backing.subarray(4096 - 16, 4096 - 16 + 20_000);
    copyFromLinear(mem, 0x5000, 10_000, view, 100);
    expect(firstDifference(backing.subarray(4096 - 16 + 100, 4096 - 16 + 10_100), mem.subarray(0x5000, 0x5000 + 10_000))).toBe(-1);
    expect(backing[4096 - 16 + 99]).toBe(1);
    expect(backing[4096 - 16 + 10_100]).toBe(1);
  });
});
