/**
 * For the few unit tests that must touch the OS (the real file systems, the
 * file datastore's inotify watch, the datastore factory's imports). They live
 * in `*_os_test.ts` files, which only `deno task unit:os` runs, and each of
 * their tests declares in its `permissions` option exactly what it needs, so
 * the grant of the task is never a test's grant (os_testing_os_test.ts fails
 * on one that declares nothing). Every other unit test runs
 * with no permission at all (`deno task unit:pure`) and fails if it touches
 * the OS. Importing this module reads TMPDIR, so only `*_os_test.ts` files may.
 * @module
 */

/** Where `Deno.makeTempDir` makes directories (TMPDIR, else /tmp). */
export const TEMP_ROOT: string = Deno.env.get("TMPDIR") || "/tmp";

/** Test options of a test that reads and writes its own temp directory, nothing else. */
export const TEMP_DIR: { permissions: Deno.PermissionOptionsObject } = {
  permissions: { read: [TEMP_ROOT], write: [TEMP_ROOT] },
};

/** Runs `fn` with a fresh temp directory, removed afterwards even when `fn` fails. */
export async function withTempDir<T>(
  prefix: string,
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix, dir: TEMP_ROOT });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
