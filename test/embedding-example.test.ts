/**
 * examples/emulator.mjs runs (against the built package, dist/) and prints
 * what its guest program does: the UART line, the fuzzing runs with the crash
 * where a run overflows guest RAM, and memory restored after every run.
 */
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const example = fileURLToPath(new URL("../examples/emulator.mjs", import.meta.url));

describe("examples/emulator.mjs", () => {
  it("prints the guest's UART output, eight fuzzing runs restored from a snapshot, one crash", () => {
    const p = spawnSync(process.execPath, [example], { encoding: "utf8" });
    expect(p.stderr).toBe("");
    expect(p.status).toBe(0);
    const lines = p.stdout.trim().split("\n");
    expect(lines[0]).toBe("uart> Hello from the guest!");
    const runs = lines.filter((l) => l.startsWith("run "));
    expect(runs.length).toBe(8);
    const re = /^run (\d): (ok|crash \(#PF at 0x([0-9a-f]+)\)), (\d+) dirty pages, restore (\d+\.\d{3}) ms, memory restored: yes$/;
    for (const [i, l] of runs.entries()) {
      const m = re.exec(l);
      expect(m, l).not.toBeNull();
      expect(Number(m![1])).toBe(i);
      expect(Number(m![5])).toBeLessThan(1000);
    }
    // run 5: n = 200 stores 1 KiB apart from 0x402000; the 57th (0x402000 + 56 * 0x400 = 0x410000) is past
    // the 64 KiB of RAM: #PF there. Dirty: the 14 buffer pages 0x402000..0x40f000, the input page, and the
    // page table whose PTEs get A/D again after each restore: 16.
    expect(runs[5]).toMatch(/^run 5: crash \(#PF at 0x410000\), 16 dirty pages, /);
    expect(runs.filter((l) => l.includes("crash")).length).toBe(1);
    // the watchpoint (BUF + 40 KiB = 0x40c000) fires in run 5 at least, before its line
    const i5 = lines.indexOf(runs[5]!);
    expect(lines[i5 - 1]).toMatch(/^watch: 0x[0-9a-f]+ written at 0x40c000$/);
    expect(lines[lines.length - 1]).toMatch(/^fuzzing done: 1 crash\(es\) in 8 runs; /);
  });
});
