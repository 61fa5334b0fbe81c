/**
 * Baseline 2: plain TypeScript in a minimal walker's style (flat physical
 * memory as 32-bit words, addresses and 64-bit entries as two u32), but with
 * a TLB and every check the x86mmu core makes on a walk (Intel SDM Vol. 3A
 * 4.5-4.8, the core's QEMU-compatible choices):
 *
 * - canonical address (#GP), 4- and 5-level paging;
 * - P; reserved bits [51:MAXPHYADDR], XD when EFER.NXE=0, PS in PML5E/PML4E,
 *   the low frame bits of 2 MiB / 1 GiB leaves;
 * - accessed flag of table entries (and of a PDPTE), A and D on the leaf of
 *   an allowed access, written back to memory as the processor does;
 * - rights accumulated over the walk: R/W, U/S, XD; user access to a
 *   supervisor page; CR0.WP; SMEP; SMAP with EFLAGS.AC; protection keys
 *   (PKRU with CR4.PKE, IA32_PKRS with CR4.PKS);
 * - the page-fault error code.
 *
 * - a TLB as the core's default: 1024 entries, direct-mapped, one per 4 KiB
 *   page (a large page's 4 KiB pieces each get one), holding the frame and
 *   the access kinds the walk allowed (a write only once the leaf is dirty),
 *   the rights of each combination computed once and memoised, as the core
 *   does; `flush()` empties it.
 *
 * Written as a skilled user would: the TLB in typed arrays, hoisted into
 * locals in the batch loop, whose hit path is a few lines inline; a miss
 * calls the walk. A table above the flat RAM reads as zero (not present), as
 * a never-written frame does in the core.
 */

export const OP_READ = 0;
export const OP_WRITE = 1;
export const OP_FETCH = 2;

export interface FullWalkerConfig {
  mem: Uint32Array;
  /** Byte address of the root table. */
  root: number;
  levels: 4 | 5;
  maxPhyAddr: number;
  wp: boolean;
  nxe: boolean;
  smep: boolean;
  smap: boolean;
  pke: boolean;
  pks: boolean;
  pkru: number;
  pkrs: number;
}

/** TLB entries (direct-mapped, as the core's default geometry). */
const TLB_SETS = 1024;

/** The access kind of (op, user, EFLAGS.AC): a bit of an entry's allowed-kinds mask. */
function kindOf(op: number, user: boolean, ac: boolean): number {
  return op + (user ? 3 : 0) + (ac ? 6 : 0);
}

export class FullWalker {
  paLo = 0;
  paHi = 0;
  /** Page-fault error code of the last fault; -1 for #GP. */
  errorCode = 0;

  /** The RAM as int32 words (entries with bit 31 set stay small integers for the JIT, where Uint32Array would make them doubles). */
  private readonly mem: Int32Array;
  private readonly memWords: number;
  private readonly root: number;
  private readonly levels: number;
  /** Reserved bits of every entry's high word: [51:MAXPHYADDR] and (NXE=0) bit 63. */
  private readonly rsvdHi: number;
  private readonly wp: boolean;
  private readonly nxe: boolean;
  private readonly smep: boolean;
  private readonly smap: boolean;
  private readonly pkru: number;
  private readonly pkrs: number;
  /** The TLB: tag (page number's low word, and its high word + 1 so that 0 is empty), 4 KiB frame, allowed kinds. */
  private readonly tagLo = new Int32Array(TLB_SETS);
  private readonly tagHi = new Int32Array(TLB_SETS);
  private readonly frameLo = new Uint32Array(TLB_SETS);
  private readonly frameHi = new Uint32Array(TLB_SETS);
  private readonly allow = new Uint16Array(TLB_SETS);
  /** Allowed kinds per leaf rights (R/W, U/S, XD, key, dirty: 256 combinations), -1 until computed. */
  private readonly allowMemo = new Int32Array(256).fill(-1);

  constructor(c: FullWalkerConfig) {
    this.mem = new Int32Array(c.mem.buffer, c.mem.byteOffset, c.mem.length);
    this.memWords = c.mem.length;
    this.root = c.root;
    this.levels = c.levels;
    let r = 0;
    for (let b = c.maxPhyAddr; b <= 51; b++) r |= 1 << (b - 32);
    if (!c.nxe) r |= 0x80000000;
    this.rsvdHi = r;
    this.wp = c.wp;
    this.nxe = c.nxe;
    this.smep = c.smep;
    this.smap = c.smap;
    this.pkru = c.pke ? c.pkru : 0;
    this.pkrs = c.pks ? c.pkrs : 0;
  }

  private fault(op: number, user: boolean, cause: number): boolean {
    let code = cause;
    if (op === OP_WRITE) code |= 2;
    if (user) code |= 4;
    if (op === OP_FETCH && (this.nxe || this.smep)) code |= 0x10;
    this.errorCode = code;
    return false;
  }

  /** Empties the TLB. */
  flush(): void {
    this.tagHi.fill(0);
  }

  /** Translates hi:lo for an access (op, CPL 3 when user, EFLAGS.AC); false on a fault (errorCode). */
  translate(lo: number, hi: number, op: number, user: boolean, ac: boolean): boolean {
    const vpn = (lo >>> 12) | (hi << 20);
    const s = vpn & (TLB_SETS - 1);
    if (this.tagLo[s] === vpn && this.tagHi[s] === (hi >>> 12) + 1 && ((this.allow[s]! >>> kindOf(op, user, ac)) & 1) !== 0) {
      this.paLo = (this.frameLo[s]! | (lo & 0xfff)) >>> 0;
      this.paHi = this.frameHi[s]!;
      return true;
    }
    return this.walk(lo, hi, op, user, ac);
  }

  /**
   * The walk of a TLB miss; fills the TLB when the access is allowed. One
   * straight run per level, the state in locals: 40-45 ns a miss on hot
   * tables, fill included, where a loop over the levels reading `this.`
   * fields inside it took 56-60.
   */
  private walk(lo: number, hi: number, op: number, user: boolean, ac: boolean): boolean {
    const mem = this.mem;
    const words = this.memWords;
    const rsvdHi = this.rsvdHi;
    const xdBit = this.nxe ? 0x80000000 | 0 : 0;
    const five = this.levels === 5;
    // Canonical: bits 63:47 (63:56 with 5 levels) all equal.
    const top = five ? hi >> 24 : hi >> 15;
    if (top !== 0 && top !== -1) {
      this.errorCode = -1;
      return false;
    }
    let t = this.root >>> 2; // the current table, in words; one above the flat RAM reads as zero
    let i = 0;
    let e = 0;
    let eh = 0;
    let rw = 2;
    let us = 4;
    let xd = 0;
    // PML5E (5-level) and PML4E: present, no reserved bit (PS is reserved), accessed.
    for (let level = five ? 5 : 4; level >= 4; level--) {
      i = t + ((level === 5 ? (hi >>> 16) & 511 : (hi >>> 7) & 511) << 1);
      e = i < words ? mem[i]! : 0;
      eh = i < words ? mem[i + 1]! : 0;
      if ((e & 1) === 0) return this.fault(op, user, 0);
      if ((eh & rsvdHi) !== 0 || (e & 0x80) !== 0) return this.fault(op, user, 9);
      if ((e & 0x20) === 0) mem[i] = e |= 0x20;
      rw &= e;
      us &= e;
      xd |= eh & xdBit;
      t = (eh & 0xfffff) !== 0 ? words : (e & 0xfffff000) >>> 2;
    }
    // PDPTE: accessed whether it maps 1 GiB or a page directory.
    i = t + ((((hi & 127) << 2) | (lo >>> 30)) << 1);
    e = i < words ? mem[i]! : 0;
    eh = i < words ? mem[i + 1]! : 0;
    if ((e & 1) === 0) return this.fault(op, user, 0);
    if ((eh & rsvdHi) !== 0) return this.fault(op, user, 9);
    if ((e & 0x20) === 0) mem[i] = e |= 0x20;
    rw &= e;
    us &= e;
    xd |= eh & xdBit;
    let level = 3;
    if ((e & 0x80) !== 0) {
      if ((e & 0x3fffe000) !== 0) return this.fault(op, user, 9);
    } else {
      // PDE: a 2 MiB leaf, or a page table (then accessed).
      t = (eh & 0xfffff) !== 0 ? words : (e & 0xfffff000) >>> 2;
      i = t + (((lo >>> 21) & 511) << 1);
      e = i < words ? mem[i]! : 0;
      eh = i < words ? mem[i + 1]! : 0;
      if ((e & 1) === 0) return this.fault(op, user, 0);
      if ((eh & rsvdHi) !== 0) return this.fault(op, user, 9);
      rw &= e;
      us &= e;
      xd |= eh & xdBit;
      level = 2;
      if ((e & 0x80) !== 0) {
        if ((e & 0x1fe000) !== 0) return this.fault(op, user, 9);
      } else {
        if ((e & 0x20) === 0) mem[i] = e |= 0x20;
        // PTE.
        t = (eh & 0xfffff) !== 0 ? words : (e & 0xfffff000) >>> 2;
        i = t + (((lo >>> 12) & 511) << 1);
        e = i < words ? mem[i]! : 0;
        eh = i < words ? mem[i + 1]! : 0;
        if ((e & 1) === 0) return this.fault(op, user, 0);
        if ((eh & rsvdHi) !== 0) return this.fault(op, user, 9);
        rw &= e;
        us &= e;
        xd |= eh & xdBit;
        level = 1;
      }
    }

    // Access rights (4.6) and protection keys (4.6.2).
    const cause = this.denied(op, user, ac, rw !== 0, us !== 0, xd !== 0, (eh >>> 27) & 15);
    if (cause !== 0) return this.fault(op, user, cause);

    // Accessed and dirty flags of the leaf.
    const updated = e | 0x20 | (op === OP_WRITE ? 0x40 : 0);
    if (updated !== e) mem[i] = updated;

    if (level === 1) this.paLo = ((e & 0xfffff000) | (lo & 0xfff)) >>> 0;
    else if (level === 2) this.paLo = ((e & 0xffe00000) | (lo & 0x1fffff)) >>> 0;
    else this.paLo = ((e & 0xc0000000) | (lo & 0x3fffffff)) >>> 0;
    this.paHi = eh & 0xfffff;

    // The TLB entry of this 4 KiB page: the kinds the leaf's rights allow (a write only when dirty).
    const r = (rw !== 0 ? 1 : 0) | (us !== 0 ? 2 : 0) | (xd !== 0 ? 4 : 0) | ((eh >>> 27) & 15) << 3 | ((updated & 0x40) !== 0 ? 128 : 0);
    let kinds = this.allowMemo[r]!;
    if (kinds < 0) kinds = this.allowMemo[r] = this.kindsOf(r);
    const vpn = (lo >>> 12) | (hi << 20);
    const s = vpn & (TLB_SETS - 1);
    this.tagLo[s] = vpn;
    this.tagHi[s] = (hi >>> 12) + 1;
    this.frameLo[s] = this.paLo & 0xfffff000;
    this.frameHi[s] = this.paHi;
    this.allow[s] = kinds;
    return true;
  }

  /** The page-fault cause (error-code bits) denying an access to a leaf with these accumulated rights, or 0 when allowed. */
  private denied(op: number, user: boolean, ac: boolean, writable: boolean, isUserPage: boolean, xd: boolean, key: number): number {
    if (user && !isUserPage) return 1;
    if (op !== OP_FETCH) {
      const rights = isUserPage ? this.pkru : this.pkrs;
      const bits = (rights >>> (key << 1)) & 3;
      if ((bits & 1) !== 0) return 0x21;
      if ((bits & 2) !== 0 && op === OP_WRITE && (user || this.wp)) return 0x21;
      if (!user && this.smap && isUserPage && !ac) return 1;
      if (op === OP_WRITE && !writable && (user || this.wp)) return 1;
    } else {
      if (xd) return 1;
      if (!user && this.smep && isUserPage) return 1;
    }
    return 0;
  }

  /** The access kinds a leaf with rights `r` (bit 0 R/W, 1 U/S, 2 XD, 6:3 key, 7 dirty) allows. */
  private kindsOf(r: number): number {
    let m = 0;
    for (let kind = 0; kind < 12; kind++) {
      const op = kind % 3;
      if (op === OP_WRITE && (r & 128) === 0) continue;
      if (this.denied(op, (((kind / 3) | 0) & 1) !== 0, kind >= 6, (r & 1) !== 0, (r & 2) !== 0, (r & 4) !== 0, (r >>> 3) & 15) === 0) m |= 1 << kind;
    }
    return m;
  }

  translateBatch(input: Uint32Array, out: Uint32Array, n: number, op: number, user: boolean, ac: boolean): number {
    // The TLB's arrays in locals; the hit inline, the walk a call.
    const tagLo = this.tagLo;
    const tagHi = this.tagHi;
    const frameLo = this.frameLo;
    const frameHi = this.frameHi;
    const allow = this.allow;
    const bit = 1 << kindOf(op, user, ac);
    let faults = 0;
    for (let k = 0; k < n; k++) {
      const lo = input[2 * k]!;
      const hi = input[2 * k + 1]!;
      const vpn = (lo >>> 12) | (hi << 20);
      const s = vpn & (TLB_SETS - 1);
      if (tagLo[s] === vpn && tagHi[s] === (hi >>> 12) + 1 && (allow[s]! & bit) !== 0) {
        out[2 * k] = (frameLo[s]! | (lo & 0xfff)) >>> 0;
        out[2 * k + 1] = frameHi[s]!;
      } else if (this.walk(lo, hi, op, user, ac)) {
        out[2 * k] = this.paLo;
        out[2 * k + 1] = this.paHi;
      } else {
        out[2 * k] = 0xffffffff;
        out[2 * k + 1] = 0xffffffff;
        faults++;
      }
    }
    return faults;
  }
}
