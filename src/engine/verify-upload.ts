import { buildManifest } from "../plan/manifest.js";
import { listRelease } from "./list-release.js";
import { StepError } from "./step-error.js";
import type { StepContext } from "./steps.js";

/**
 * Build once: the host's copy must be the local build, byte for byte (every file hashed on the host,
 * none taken from an earlier manifest). A host whose copy differs refuses, so nobody switches.
 */
export async function verifyUpload(
  ctx: StepContext,
  title: string,
  releaseDir: string,
  expected: string,
): Promise<void> {
  const listing = await listRelease(ctx, title, releaseDir);
  const { checksum } = buildManifest(listing, []);
  if (checksum !== expected)
    throw new StepError(
      ctx.executor.host,
      title,
      `the upload's manifest checksum ${checksum} is not the local build's ${expected}: a file changed on the way; the release is refused`,
      "",
    );
}
