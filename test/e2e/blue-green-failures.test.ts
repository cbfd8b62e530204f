import assert from "node:assert/strict";
import { test } from "node:test";
import { live, rig } from "../helpers/balanced-rig.js";
import { cutover } from "../helpers/cli.js";

test("nginx blue/green: a reload that fails puts the upstream file back, so the next deploy still goes to the pool nginx does not serve", async () => {
  // 127.0.0.2 is blue (in service), 127.0.0.3 green (marked down).
  const r = await rig("nginx", { secondOut: true });
  try {
    const [blue, green] = r.backends;
    const blueGreen = {
      strategy: "blue-green",
      pools: { blue: [blue!.name], green: [green!.name] },
      rolling: undefined,
    };
    r.settings(r.balancer, blueGreen);
    const first = await cutover(["deploy"], r.fx.app);
    assert.equal(first.code, 0, first.stderr);
    const served = live(green!);
    const states = r.serverStates();
    assert.deepEqual(states, ["down", "ready"], "green serves");

    // The reload fails (say nginx's pid file is gone): nginx keeps serving green.
    r.settings(
      {
        ...r.balancer,
        reload_command: `echo 'nginx: [error] invalid PID number "" in "/run/nginx.pid"' >&2; exit 1`,
      },
      blueGreen,
    );
    const failed = await cutover(["deploy"], r.fx.app);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /invalid PID number/);
    assert.deepEqual(r.serverStates(), states, "the upstream file still says what nginx serves: green");

    // The next run deploys to blue, the pool out of service, and never touches green.
    r.settings(r.balancer, blueGreen);
    const next = await cutover(["deploy"], r.fx.app);
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stderr, /deploy to the idle pool blue/);
    assert.equal(live(green!), served, "the pool nginx served was not deployed to");
    assert.deepEqual(r.serverStates(), ["ready", "down"], "blue serves now");
  } finally {
    await r.stop();
  }
});
