/**
 * Copies out of the core's linear memory into a host buffer, sized for the
 * memcpy under `TypedArray.prototype.set`.
 *
 * glibc's memmove (2.36 here) copies 2 KiB or more with `rep movsb` below its
 * non-temporal threshold (between 384 and 512 KiB on this machine), and
 * `rep movsb` runs about 8× slower when the destination lies just above the
 * source modulo 4 KiB (4K aliasing: each load waits on a store it only seems
 * to depend on). A frame's storage is page aligned, and an ArrayBuffer of
 * 128 KiB or more is an mmap'd block whose data starts 16 bytes into a page,
 * so reading pages into a large buffer at page-aligned offsets is exactly
 * that case: 4 KiB took 1.5 µs instead of 0.2, 64 KiB 25 µs instead of 2
 * (measured with a good and a bad alignment). Pieces of at most 2 KiB take
 * glibc's vector loop, which has no such cliff: 64 KiB in 2 KiB pieces took
 * 3.5 µs with the bad alignment.
 *
 * So: a copy of up to 4 KiB (a page) goes in 2 KiB pieces, which costs
 * nothing when the alignment is good (0.20 µs either way for 4 KiB); a
 * larger one below 512 KiB does too when the destination looks like that
 * case (a large buffer, the distance from the source 1 to 63 bytes modulo
 * 4 KiB if the buffer's data starts 16 bytes into a page); anything else is
 * one call. Only speed depends on the guess, never the bytes.
 */

const PIECE = 2048;
const ONE_CALL_FROM = 512 * 1024;
const LARGE_BUFFER = 128 * 1024;

/** `len` bytes of linear memory `mem` from offset `host` into `out` at `at`. */
export function copyFromLinear(mem: Uint8Array, host: number, len: number, out: Uint8Array, at: number): void {
  if (len <= PIECE || len >= ONE_CALL_FROM || (len > 4096 && !aliases(host, out, at))) {
    out.set(mem.subarray(host, host + len), at);
    return;
  }
  for (let done = 0; done < len; done += PIECE) {
    const n = Math.min(PIECE, len - done);
    out.set(mem.subarray(host + done, host + done + n), at + done);
  }
}

/** Whether out[at] probably lies 1 to 63 bytes above linear offset `host` modulo 4 KiB (a large buffer's data 16 bytes into a page). */
function aliases(host: number, out: Uint8Array, at: number): boolean {
  if (out.buffer.byteLength < LARGE_BUFFER) return false;
  const d = (16 + out.byteOffset + at - host) & 4095;
  return d > 0 && d < 64;
}
