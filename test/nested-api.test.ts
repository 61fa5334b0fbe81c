/**
 * Nested paging (AMD SVM NPT) through the Mmu API, case by case from the APM
 * (vol. 2, 15.16 TLB control, 15.25 nested paging) for what the conformance
 * corpus cannot hold: ASID-tagged TLB entries, TLB_CONTROL and INVLPGA, a
 * non-canonical guest address, the guest root's own nested path, protection
 * keys in the guest, probe's two addresses, MMIO on host-physical addresses.
 * Every table word below is written by hand; the comments derive each answer.
 */
import { describe, it, expect } from "vitest";
import { Mmu, LONG_MODE, NestedPageFault, PageFault, GeneralProtection, RegisterError } from "../src/index.js";

/*
 * Host-physical layout (nested tables map guest-physical 0x0000..0xffff to
 * host-physical 0x400000 + the same offset, 4 KiB pages, user + writable):
 *   nPML4 0x100000 [0] = 0x101007, nPDPT 0x101000 [0] = 0x102007,
 *   nPD 0x102000 [0] = 0x103007, nPT 0x103000 [i] = (0x400000 + 0x1000 i) | 7.
 * Guest tables (guest-physical → host-physical):
 *   gPML4 0x1000 (0x401000) [0] = 0x2007, gPDPT 0x2000 (0x402000) [0] = 0x3007,
 *   gPD 0x3000 (0x403000) [1] = 0x4007, gPT 0x4000 (0x404000) [1] = 0x5007, [2] = 0x7007.
 * Guest VA 0x201234: PML4 0, PDPT 0, PD (0x201234 >> 21) = 1, PT (>> 12) & 511 = 1,
 * so gPA 0x5234 and hPA 0x405234.
 */
function setup(): Mmu {
  const mmu = new Mmu();
  const w = (pa: bigint, v: bigint) => mmu.memory.write(pa, 8, v);
  w(0x100000n, 0x101007n);
  w(0x101000n, 0x102007n);
  w(0x102000n, 0x103007n);
  for (let i = 0n; i < 16n; i++) w(0x103000n + 8n * i, (0x400000n + 0x1000n * i) | 7n);
  w(0x401000n, 0x2007n);
  w(0x402000n, 0x3007n);
  w(0x403008n, 0x4007n);
  w(0x404008n, 0x5007n);
  w(0x404010n, 0x7007n);
  mmu.loadState({ ...LONG_MODE, cr3: 0x1000n });
  mmu.enterGuest({ ncr3: 0x100000n, asid: 1 });
  return mmu;
}

describe("the 2-D walk through the API", () => {
  it("translates guest-linear to host-physical; nested D on every guest table page, A only on the data page", () => {
    const mmu = setup();
    expect(mmu.translate(0x201234n, { op: "read" })).toBe(0x405234n);
    // Guest entries (at their host addresses) got A.
    expect(mmu.memory.read(0x401000n, 8)).toBe(0x2027n);
    expect(mmu.memory.read(0x404008n, 8)).toBe(0x5027n);
    // Nested PTEs of the four guest table pages (gPA 0x1000..0x4000): A|D (user writes).
    for (const i of [1n, 2n, 3n, 4n]) expect(mmu.memory.read(0x103000n + 8n * i, 8)).toBe((0x400000n + 0x1000n * i) | 0x67n);
    // The data page (gPA 0x5000) was read: A only.
    expect(mmu.memory.read(0x103028n, 8)).toBe(0x405027n);
  });

  it("probe gives the guest-physical and the host-physical address and the nested leaf, changing nothing", () => {
    const mmu = setup();
    const p = mmu.probe(0x201234n);
    expect(p.ok).toBe(true);
    if (p.ok) {
      expect(p.pa).toBe(0x405234n);
      expect(p.guestPhysical).toBe(0x5234n);
      expect(p.nestedLeaf).toBe(0x405007n);
      expect(p.leaf).toBe(0x5007n);
    }
    expect(mmu.memory.read(0x404008n, 8)).toBe(0x5007n);
  });

  it("a non-canonical guest address raises #GP before anything is walked", () => {
    const mmu = setup();
    expect(() => mmu.translate(0x0000800000000000n)).toThrow(GeneralProtection);
    expect(mmu.memory.read(0x401000n, 8)).toBe(0x2007n);
    expect(mmu.memory.read(0x103008n, 8)).toBe(0x401007n);
  });

  it("the guest root's own nested path not present: NPF with bit 33 at the PML4E's guest-physical address", () => {
    const mmu = setup();
    mmu.memory.write(0x103008n, 8, 0n); // gPA 0x1000 (the guest PML4) has no nested mapping
    let f: unknown;
    try {
      mmu.translate(0x201234n);
    } catch (e) {
      f = e;
    }
    expect(f).toBeInstanceOf(NestedPageFault);
    // EXITINFO1: P=0 (not present), RW=1 (guest table entries are user writes), US=1, bit 33.
    expect((f as NestedPageFault).exitinfo1).toBe(0x200000006n);
    // EXITINFO2: the PML4E's own gPA, 0x1000 + 8 * 0.
    expect((f as NestedPageFault).exitinfo2).toBe(0x1000n);
    expect((f as NestedPageFault).linear).toBe(0x201234n);
  });

  it("a write to a nested read-only data page: NPF 0x100000007 after the guest PTE got A and D", () => {
    const mmu = setup();
    mmu.memory.write(0x103028n, 8, 0x405005n); // gPA 0x5000: nested read-only
    const t = mmu.tryTranslate(0x201234n, { op: "write" });
    expect(t.ok).toBe(false);
    if (!t.ok) {
      expect(t.fault).toBeInstanceOf(NestedPageFault);
      expect((t.fault as NestedPageFault).exitinfo1).toBe(0x100000007n);
      expect((t.fault as NestedPageFault).exitinfo2).toBe(0x5234n);
    }
    expect(mmu.memory.read(0x404008n, 8)).toBe(0x5067n); // guest A|D stay
    expect(mmu.memory.read(0x103028n, 8)).toBe(0x405005n); // the nested leaf: no A (denied)
  });

  it("protection keys apply to the guest walk's leaf as in long mode", () => {
    const mmu = setup();
    mmu.cr4 = LONG_MODE.cr4 | (1n << 22n); // CR4.PKE
    mmu.pkru = 0x1; // AD for key 0
    const t = mmu.tryTranslate(0x201234n, { op: "read", cpl: 3 });
    expect(!t.ok && t.fault instanceof PageFault && t.fault.errorCode).toBe(0x25); // P | U | PK
  });

  it("a 32-bit or PAE guest is refused under nested paging", () => {
    const mmu = setup();
    expect(() => mmu.loadState({ cr0: 0x80010011n, cr3: 0x1000n, cr4: 0n, efer: 0n })).toThrow(RegisterError);
    expect(mmu.pagingMode).toBe("4-level");
  });

  it("MMIO sits at host-physical addresses", () => {
    const mmu = setup();
    const seen: bigint[] = [];
    mmu.mapDevice(0x407000n, 0x1000n, { read: (pa) => (seen.push(pa), 0xabn), write: () => {} });
    // VA 0x202010: gPT[2] = gPA 0x7000 → hPA 0x407000.
    expect(mmu.read(0x202010n, 1)).toBe(0xabn);
    expect(seen).toEqual([0x407010n]);
  });
});

describe("the TLB under nested paging (APM 15.16)", () => {
  it("entries are tagged with the ASID: they survive a switch and come back; INVLPGA drops one ASID's", () => {
    const mmu = setup();
    expect(mmu.translate(0x201234n)).toBe(0x405234n); // cached in ASID 1
    mmu.memory.write(0x404008n, 8, 0x6007n); // guest PTE now gPA 0x6000, no invalidation
    expect(mmu.translate(0x201234n)).toBe(0x405234n); // stale, as hardware may be
    mmu.enterGuest({ ncr3: 0x100000n, asid: 2 }); // another guest, TLB_CONTROL 0
    expect(mmu.translate(0x201234n)).toBe(0x406234n); // ASID 2 walks
    mmu.enterGuest({ ncr3: 0x100000n, asid: 1 });
    expect(mmu.translate(0x201234n)).toBe(0x405234n); // ASID 1's entry survived
    mmu.invlpga(0x201000n, 1);
    expect(mmu.translate(0x201234n)).toBe(0x406234n);
  });

  it("TLB_CONTROL 3 flushes this ASID only; 1 flushes every ASID", () => {
    const mmu = setup();
    mmu.translate(0x201234n); // ASID 1: 0x405234
    mmu.enterGuest({ ncr3: 0x100000n, asid: 2 });
    mmu.translate(0x201234n); // ASID 2: 0x405234
    mmu.memory.write(0x404008n, 8, 0x6007n);
    mmu.enterGuest({ ncr3: 0x100000n, asid: 1 }, 3);
    expect(mmu.translate(0x201234n)).toBe(0x406234n); // flushed
    mmu.enterGuest({ ncr3: 0x100000n, asid: 2 });
    expect(mmu.translate(0x201234n)).toBe(0x405234n); // ASID 2 kept its entry
    mmu.enterGuest({ ncr3: 0x100000n, asid: 2 }, 1);
    expect(mmu.translate(0x201234n)).toBe(0x406234n);
  });

  it("the guest's INVLPG acts within its ASID", () => {
    const mmu = setup();
    mmu.translate(0x201234n);
    mmu.enterGuest({ ncr3: 0x100000n, asid: 2 });
    mmu.translate(0x201234n);
    mmu.memory.write(0x404008n, 8, 0x6007n);
    mmu.invlpg(0x201000n); // in ASID 2
    expect(mmu.translate(0x201234n)).toBe(0x406234n);
    mmu.enterGuest({ ncr3: 0x100000n, asid: 1 });
    expect(mmu.translate(0x201234n)).toBe(0x405234n);
  });

  it("refuses ASID 0 and ASIDs at or above NASID (128)", () => {
    const mmu = setup();
    expect(() => mmu.enterGuest({ ncr3: 0x100000n, asid: 0 })).toThrow(RegisterError);
    expect(() => mmu.enterGuest({ ncr3: 0x100000n, asid: 128 })).toThrow(RegisterError);
    expect(mmu.nested).toEqual({ ncr3: 0x100000n, nxe: true, asid: 1 });
  });
});
