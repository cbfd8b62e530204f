import path from "node:path/posix";

/** Where everything lives under a deploy path. Kept stable: other tools and our checks read it. */
export interface Layout {
  readonly root: string;
  readonly current: string;
  readonly releases: string;
  readonly shared: string;
  readonly meta: string;
  readonly lock: string;
  readonly lockOwner: string;
  readonly history: string;
  readonly tmp: string;
  release(id: string): string;
  releaseMeta(id: string): string;
  releaseManifest(id: string): string;
}

export function layout(root: string): Layout {
  const meta = path.join(root, ".cutover");
  return {
    root,
    current: path.join(root, "current"),
    releases: path.join(root, "releases"),
    shared: path.join(root, "shared"),
    meta,
    lock: path.join(meta, "lock"),
    lockOwner: path.join(meta, "lock", "owner.json"),
    history: path.join(meta, "history.jsonl"),
    tmp: path.join(meta, "tmp"),
    release: (id) => path.join(root, "releases", id),
    releaseMeta: (id) => path.join(meta, "releases", `${id}.json`),
    releaseManifest: (id) => path.join(meta, "releases", `${id}.manifest`),
  };
}

/** The link text `current` gets: relative, so the tree survives being moved or bind-mounted. */
export function currentTarget(id: string): string {
  return `releases/${id}`;
}

/** Relative link from `releases/<id>/<p>` to `shared/<p>`. */
export function sharedLinkTarget(p: string): string {
  const depth = p.split("/").length - 1;
  return `${"../".repeat(depth + 2)}shared/${p}`;
}

/** The release id a `current` link text points at, if it is one of ours. */
export function releaseOfLink(root: string, linkText: string): string | undefined {
  const absolute = path.resolve(root, linkText);
  const rel = path.relative(path.join(root, "releases"), absolute);
  return rel && !rel.startsWith("..") && !rel.includes("/") ? rel : undefined;
}
