import type { ResolvedStage } from "../config/resolve.js";
import { CutoverError } from "../errors.js";
import { checkBalancer, describeBalancer, openBalancer } from "./balancer.js";
import type { Finding } from "./doctor.js";
import { ownDrainedHosts } from "./drain-marks.js";
import { readPools } from "./pool-switch.js";

/** The balancer answers, knows every host, and none is out of service (blue-green: one pool is). */
export async function balancerFindings(stage: ResolvedStage): Promise<Finding[]> {
  if (!stage.balancer) return [];
  const link = openBalancer(stage);
  try {
    // Blue-green keeps one pool out of service on purpose: exactly one must be in.
    if (stage.blueGreen) {
      await readPools(link, stage);
      return [];
    }
    // Servers a stopped run of cutover left out are no error: the next deploy puts them back.
    let own: readonly string[] = [];
    await checkBalancer(link, stage.hosts, true, async (out) => {
      own = await ownDrainedHosts(stage, link, out);
      return own;
    });
    return own.map((host) => ({
      host: "balancer",
      level: "warning",
      check: "balancer",
      message: `host ${host}: server "${link.config.servers.get(host)}" was taken out by a cutover run that stopped before putting it back (${describeBalancer(link.config)})`,
      fix: "the next deploy or rollback puts it back in service (once its host serves a checked release)",
    }));
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
