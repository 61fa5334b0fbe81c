// Embedding x86mmu in an emulator, in one page: a tiny interpreter whose
// guest loads and stores go through translate-and-load/store (the number
// fast paths), a UART at a physical address whose writes print characters,
// a watchpoint hook, and a fuzzing loop that restores a snapshot between
// runs. Run after building: npm run build && node examples/emulator.mjs
import { Mmu, LONG_MODE, encodeAccess, PageFault } from "x86mmu";

// ---- The machine: 64 KiB of guest RAM at 0x400000, a UART page at 0x7f000000 ----
const RAM_VA = 0x400000n;
const RAM_PA = 0x200000n;
const UART_PA = 0xfee00000n; // 16550-style: THR at +0 (write a byte), LSR at +5 (0x20: ready)
const UART_VA = 0x7f000000n;

const mmu = new Mmu();
const pt = mmu.createPageTable();
pt.map(RAM_VA, RAM_PA, 0x10000n, { flags: { writable: true, user: true } });
pt.map(UART_VA, UART_PA, 0x1000n, { flags: { writable: true } });
mmu.loadState({ ...LONG_MODE, cr3: pt.root });

let line = "";
mmu.mapDevice(UART_PA, 8n, {
  read: (pa) => (pa === UART_PA + 5n ? 0x20 : 0),
  write: (pa, _size, value) => {
    if (pa !== UART_PA) return;
    const c = String.fromCharCode(Number(value & 0xffn));
    if (c === "\n") (console.log(`uart> ${line}`), (line = ""));
    else line += c;
  },
});

// ---- A tiny interpreter: registers r0..r3, loads and stores through the MMU ----
const LD1 = encodeAccess({ op: "read", size: 1 });
const ST1 = encodeAccess({ op: "write", size: 1 });
const LD4 = encodeAccess({ op: "read", size: 4 });
const ST4 = encodeAccess({ op: "write", size: 4 });

/** Runs `program` (a list of instructions); returns the fault that stopped it, or undefined. */
function run(program, regs = [0, 0, 0, 0]) {
  for (let pc = 0, steps = 0; pc < program.length && steps < 1e6; steps++) {
    const [op, a, b, c] = program[pc++];
    switch (op) {
      case "li": regs[a] = b; break; // r[a] = imm
      case "add": regs[a] += typeof b === "number" ? b : regs[b.r]; break;
      case "ld1": case "ld4": { // r[a] = [r[b] + c]
        const v = mmu.loadNumber(regs[b] + c, op === "ld1" ? LD1 : LD4);
        if (v < 0) return mmu.lastFault();
        regs[a] = v;
        break;
      }
      case "st1": case "st4": { // [r[a] + b] = r[c]
        if (mmu.storeNumber(regs[a] + b, op === "st1" ? ST1 : ST4, regs[c]) !== 0) return mmu.lastFault();
        break;
      }
      case "jz": if (regs[a] === 0) pc = b; break;
      case "jnz": if (regs[a] !== 0) pc = b; break;
      case "jmp": pc = a; break;
      default: throw new Error(`bad instruction ${op}`);
    }
  }
  return undefined;
}

// puts: copy the NUL-terminated string at r1 to the UART's THR, waiting for LSR.THRE
const puts = [
  ["li", 2, Number(UART_VA)],
  ["ld1", 0, 2, 5], ["li", 3, 0x20], // 1: poll LSR (always ready here)
  ["ld1", 0, 1, 0], // 3: r0 = *r1
  ["jz", 0, 8],
  ["st1", 2, 0, 0], // THR = r0
  ["add", 1, 1],
  ["jmp", 3],
];
mmu.writeBytes(RAM_VA + 0x100n, new TextEncoder().encode("Hello from the guest!\n\0"));
run(puts, [0, Number(RAM_VA + 0x100n), 0, 0]);

// ---- Fuzzing: the target parses an input; each run starts from the same snapshot ----
// The target stores the input's second word n = input[0] times, 1 KiB apart, from BUF on: a large
// n runs off the end of guest RAM (0x410000) and page-faults, which the fuzzer records as a crash.
const INPUT = RAM_VA + 0x1000n; // 256 bytes of input
const BUF = RAM_VA + 0x2000n;
const target = [
  ["li", 1, Number(INPUT)],
  ["ld1", 2, 1, 0], // r2 = n = input[0]
  ["li", 3, 0], // r3 = offset into BUF
  ["ld4", 0, 1, 4], // 3: r0 = input word 1
  ["st4", 3, Number(BUF), 0], // [BUF + r3] = r0
  ["add", 3, 0x400],
  ["add", 2, -1],
  ["jnz", 2, 3],
];

// A watchpoint: a hook on the word at BUF + 40 KiB fires when a run gets that far.
const GUARD = BUF + 40n * 0x400n;
mmu.addHook({ space: "linear", start: GUARD, length: 4n, ops: ["write"], after: (e) => console.log(`watch: 0x${e.value.toString(16)} written at 0x${e.va.toString(16)}`) });

const rand = (() => { let s = 7; return () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) & 0xff; })();

mmu.dirtyLog.start();
const snap = mmu.snapshot();
const golden = mmu.readBytes(RAM_VA, 0x10000);
let crashes = 0;
for (let i = 0; i < 8; i++) {
  const input = Uint8Array.from({ length: 256 }, rand);
  input[0] = i === 5 ? 200 : 1 + (input[0] % 48); // run 5 writes past the end of RAM
  mmu.writeBytes(INPUT, input);
  const fault = run(target);
  if (fault) crashes++;
  const dirty = mmu.dirtyLog.frames().length;
  const t0 = performance.now();
  mmu.restore(snap);
  const ms = performance.now() - t0;
  mmu.dirtyLog.clear();
  const same = Buffer.from(mmu.readBytes(RAM_VA, 0x10000)).equals(Buffer.from(golden));
  const what = fault ? `crash (${fault instanceof PageFault ? `#PF at 0x${fault.cr2.toString(16)}` : fault.message})` : "ok";
  console.log(`run ${i}: ${what}, ${dirty} dirty pages, restore ${ms.toFixed(3)} ms, memory restored: ${same ? "yes" : "NO"}`);
}
console.log(`fuzzing done: ${crashes} crash(es) in 8 runs; the snapshot now holds ${snap.frames} saved frame(s), ${snap.bytes} bytes`);
