/**
 * Issue 13, defect 13: each Mmu reserves about 10 GiB of address space (its
 * own WebAssembly memory, reserved in full by the engine, committed only as
 * used); at about 12,400 instances creating one failed with a raw RangeError
 * from WebAssembly. It is an OutOfMemoryError now, saying what to do. (The
 * engine's refusal is simulated: reaching it for real takes minutes.)
 */
import { describe, it, expect } from "vitest";
import { Mmu, OutOfMemoryError, X86MmuError } from "../src/index.js";

describe("creating an Mmu when address space has run out", () => {
  it("is an OutOfMemoryError naming the per-instance cost, and later Mmus work again", () => {
    const a = new Mmu();
    const real = WebAssembly.Instance;
    (WebAssembly as { Instance: unknown }).Instance = function () {
      throw new RangeError("WebAssembly.Instance(): Out of memory: Cannot allocate Wasm memory for new instance");
    };
    let err: unknown;
    try {
      new Mmu();
    } catch (e) {
      err = e;
    } finally {
      (WebAssembly as { Instance: unknown }).Instance = real;
    }
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect(err).toBeInstanceOf(X86MmuError);
    expect((err as Error).message).toContain("10 GiB of address space");
    const b = new Mmu();
    b.memory.write(0x1000n, 1, 1);
    expect(a.memory.read(0x1000n, 1)).toBe(0n);
  });
});
