import type { ResolvedStage } from "../config/resolve.js";
import { CutoverError } from "../errors.js";
import { checkBalancer, openBalancer } from "./balancer.js";
import type { Finding } from "./doctor.js";
import { readPools } from "./pool-switch.js";

/** The balancer answers, knows every host, and none is out of service (blue-green: one pool is). */
export async function balancerFindings(stage: ResolvedStage): Promise<Finding[]> {
  if (!stage.balancer) return [];
  const link = openBalancer(stage);
  try {
    // Blue-green keeps one pool out of service on purpose: exactly one must be in.
    if (stage.blueGreen) await readPools(link, stage);
    else await checkBalancer(link, stage.hosts, true);
    return [];
  } catch (error) {
    if (!(error instanceof CutoverError)) throw error;
    return [
      {
        host: "balancer",
        level: "error",
        check: "balancer",
        message: error.message.replace(/^balancer: /, ""),
        fix: error.details.fix ?? "",
      },
    ];
  } finally {
    await link.close();
  }
}
