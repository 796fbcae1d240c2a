/**
 * Typed kernel errors, so callers branch on a class and never on a message.
 * @module
 */

/** A netlink request the kernel refused; `errno` is the positive errno. */
export class NetlinkError extends Error {
  readonly errno: number;
  constructor(errno: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NetlinkError";
    this.errno = errno;
  }
}

/** ENODEV / ENOENT / ESRCH: the object (link, route, address) does not exist. */
export class NotFoundError extends NetlinkError {
  constructor(errno: number, message: string) {
    super(errno, message);
    this.name = "NotFoundError";
  }
}

/** A link by that name/index does not exist. */
export class LinkNotFoundError extends NotFoundError {
  constructor(errno: number, message: string) {
    super(errno, message);
    this.name = "LinkNotFoundError";
  }
}

/** EEXIST: an equal object already exists. */
export class ExistsError extends NetlinkError {
  constructor(errno: number, message: string) {
    super(errno, message);
    this.name = "ExistsError";
  }
}

/** The link name is taken. */
export class LinkExistsError extends ExistsError {
  constructor(errno: number, message: string) {
    super(errno, message);
    this.name = "LinkExistsError";
  }
}

/** The network namespace path does not exist or is not a netns. */
export class NoSuchNetnsError extends NetlinkError {
  constructor(errno: number, message: string) {
    super(errno, message);
    this.name = "NoSuchNetnsError";
  }
}
