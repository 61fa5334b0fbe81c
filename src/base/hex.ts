/** Lowercase 0x-hex without leading zeros, "0x0" for zero: how every message and result writes a number. */
export function hex(v: bigint | number): string {
  return "0x" + v.toString(16);
}
