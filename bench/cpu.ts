/**
 * CPU time of a bench worker's reaped children, so a table can show what a
 * call costs the machine, not only how long it waits: on a 2-core node the
 * parallel throughput is bounded by CPU per call.
 * @module
 */

type Libc = Deno.DynamicLibrary<{ getrusage: { parameters: ["i32", "buffer"]; result: "i32" } }>;

/**
 * A reader of getrusage(RUSAGE_CHILDREN), opening libc on first use (importing
 * this module has no side effect). Returns ms (microsecond resolution) of user
 * plus system time of every child reaped so far, with their own reaped
 * children (iptables for the reference plugins), once we have waited for them.
 */
export function childCpuReader(): () => number {
  let lib: Libc | undefined;
  return () => {
    lib ??= Deno.dlopen("libc.so.6", {
      getrusage: { parameters: ["i32", "buffer"], result: "i32" },
    });
    const ru = new BigInt64Array(18); // struct rusage: ru_utime, ru_stime (timeval), then longs
    if (lib.symbols.getrusage(-1, /* RUSAGE_CHILDREN */ new Uint8Array(ru.buffer)) !== 0) {
      throw new Error("Cannot read child CPU time: getrusage failed");
    }
    return Number(ru[0]) * 1e3 + Number(ru[1]) / 1e3 + Number(ru[2]) * 1e3 + Number(ru[3]) / 1e3;
  };
}
