import type { ResolvedStage } from "../config/resolve.js";
import { CutoverError } from "../errors.js";
import { checkBalancer, openBalancer } from "./balancer.js";
import type { Finding } from "./doctor.js";

/** The balancer answers, knows every host, and none is out of service (a deploy would refuse then). */
export async function balancerFindings(stage: ResolvedStage): Promise<Finding[]> {
  if (!stage.balancer) return [];
  const link = openBalancer(stage);
  try {
    await checkBalancer(link, stage.hosts, true);
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
