/**
 * xorshift32: the tests' small deterministic generator (plain JavaScript, so
 * worker scripts load it as they are). `xorshift32(seed)()` gives the next u32.
 */
export function xorshift32(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}
