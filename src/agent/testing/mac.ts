/**
 * A fixed VTEP MAC per address for test fixtures, so expected neighbour and
 * FDB entries can be written down. Production MACs are random (vxlan/vtep.ts).
 * @module
 */

/** "0e:68" followed by the four address bytes: 10.244.1.0 gives 0e:68:0a:f4:01:00. */
export function vtepMac(ip: string): string {
  const bytes = ip.split(".").map((b) => Number(b).toString(16).padStart(2, "0"));
  return ["0e", "68", ...bytes].join(":");
}
