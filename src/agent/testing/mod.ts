/**
 * Test helpers of the agent's unit tests: a whole node on fakes (netlink,
 * iptables, files, datastore, clock) and golden-file assertions.
 *
 * Owns: nothing at run time; only tests import it. Must not: be imported by
 * production code.
 * @module
 */
export {
  commandDeps,
  type FakeNode,
  fakeNode,
  NETLINK_WRITES,
  peer,
  routesOf,
} from "./fake_node.ts";
export { assertGolden } from "./golden.ts";
export { vtepMac } from "./mac.ts";
export { FakeWatches } from "./fake_watch.ts";
