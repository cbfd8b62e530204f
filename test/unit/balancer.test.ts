import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { stringify } from "yaml";
import { parseConfigText } from "../../src/config/load.js";
import { resolveStage } from "../../src/config/resolve.js";
import {
  drainBatchCap,
  nginxUpstream,
  parseHaproxySessions,
  parseHaproxyState,
  parseNginxUpstream,
  planDrains,
  type ServerState,
  sessionsOf,
} from "../../src/plan/balancer.js";
import { poolsOf, switchPools } from "../../src/plan/blue-green.js";
import { renderCmd } from "../../src/shell/cmd.js";
import { scratchDir } from "../helpers/scratch.js";

function stage(settings: Record<string, unknown>, hosts = ["web1", "web2", "web3", "web4"]) {
  const dir = scratchDir("balancer ");
  const file = path.join(dir, "cutover.yaml");
  const text = stringify({
    ...settings,
    stages: { prod: { hosts: hosts.map((name) => ({ name, path: `/srv/${name}` })) } },
  });
  return resolveStage(parseConfigText(text, file), file, "prod");
}

const haproxy = { type: "haproxy", socket: "/run/haproxy/admin sock", backend: "app" };

test("HAProxy servers default to the host names; a server for an unknown host is a config error", () => {
  const s = stage({ balancer: { ...haproxy, servers: { web2: "srv-2" } } });
  assert.deepEqual([...s.balancer!.servers.values()], ["web1", "srv-2", "web3", "web4"]);
  assert.throws(
    () => stage({ balancer: { ...haproxy, servers: { web9: "x" } } }),
    /balancer\.servers\.web9: no host named "web9"/,
  );
  assert.throws(() => stage({ balancer: { ...haproxy, servers: { web2: "web1" } } }), /both server "web1"/);
});

test("nginx needs an upstream address for every host", () => {
  assert.throws(
    () =>
      stage({
        balancer: { type: "nginx", upstream_file: "/etc/nginx/app.conf", servers: { web1: "10.0.0.1:80" } },
      }),
    /host "web2" has no upstream address/,
  );
});

test("nginx: an upstream address cutover cannot count requests to (a name, a socket) is a config error naming the host", () => {
  const servers = {
    web1: "10.0.0.1:80",
    web2: "[2001:db8::2]:8080",
    web3: "10.0.0.3:80",
    web4: "10.0.0.4:80",
  };
  const nginx = (over: Record<string, string>) =>
    stage({
      balancer: { type: "nginx", upstream_file: "/etc/nginx/app.conf", servers: { ...servers, ...over } },
    });
  assert.equal(nginx({}).balancer!.servers.get("web2"), "[2001:db8::2]:8080");
  for (const address of ["app3.internal:80", "unix:/run/app3.sock", "10.0.0.3", "[::ffff:10.0.0.3]:80"])
    assert.throws(
      () => nginx({ web3: address }),
      (e: Error) =>
        e.message.includes(`balancer.servers.web3: "${address}" is not an IP address with a port`) &&
        /drain/.test(e.message),
      address,
    );
});

test("max_unavailable caps the rolling batch: never more than that share out of the balancer", () => {
  const s = stage({ rolling: { batch: "100%" }, balancer: { ...haproxy, max_unavailable: "25%" } });
  assert.equal(drainBatchCap(s.balancer!, 4), 1);
  assert.equal(drainBatchCap({ ...s.balancer!, maxUnavailable: 2 }, 4), 2);
  assert.equal(drainBatchCap({ ...s.balancer!, maxUnavailable: "10%" }, 4), 1, "at least one");
  const [first] = planDrains(s.balancer!, [["web1", "web2"]]);
  const text = renderCmd(first!.out);
  assert.match(text, /set server app\/web1 state drain; set server app\/web2 state drain/);
  assert.ok(text.includes("'/run/haproxy/admin sock'"), "the socket path is one quoted word");
});

const STATE = `1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight
3 app 1 web1 127.0.0.2 2 0 1
3 app 2 web2 127.0.0.3 2 8 1
3 app 3 web3 127.0.0.4 2 1 1
3 app 4 web4 127.0.0.5 0 0 1
3 app 5 web5 127.0.0.6 2 4 1
4 other 1 web1 127.0.0.9 2 0 1
`;

test("show servers state: running and ready is in service (also once disabled in the config); drain, maintenance and down are not", () => {
  assert.deepEqual(parseHaproxyState(STATE, "app"), [
    { name: "web1", inService: true },
    { name: "web2", inService: false, why: "draining" },
    { name: "web3", inService: false, why: "in maintenance" },
    { name: "web4", inService: false, why: "down" },
    { name: "web5", inService: true },
  ]);
  assert.equal(parseHaproxyState("Can't find backend.\n", "app"), undefined, "an error is no state");
});

test("show servers state: a garbage row (a state that is no number, a cut line, a server twice) is no state, not a server down", () => {
  const header = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight\n";
  for (const rows of [
    "3 app 1 web1 127.0.0.2 2 0 1\n3 app 2 web2 127.0.0.3 up ready 1\n",
    "3 app 1 web1 127.0.0.2 2 0 1\n3 app 2 web2 127.0.0.3\n",
    "3 app 1 web1 127.0.0.2 0 0 1\n3 app 1 web1 127.0.0.2 2 0 1\n",
  ])
    assert.equal(parseHaproxyState(header + rows, "app"), undefined, rows);
});

test("show stat: sessions of the named servers of the backend only", () => {
  const csv =
    "# pxname,svname,qcur,qmax,scur,smax\napp,web1,0,0,3,9\napp,web2,0,0,2,4\nother,web1,0,0,7,7\napp,BACKEND,0,0,5,9\n";
  assert.equal(parseHaproxySessions(csv, "app", ["web1"]), 3);
  assert.equal(parseHaproxySessions(csv, "app", ["web1", "web2"]), 5);
});

test("show stat: an answer it cannot read is an error, never zero sessions", () => {
  const unreadable = [
    ["no scur column", "# pxname,svname,qcur,qmax,smax\napp,web1,0,0,9\n"],
    ["not a CSV at all", "Permission denied.\n"],
    ["a non-numeric scur", "# pxname,svname,qcur,qmax,scur,smax\napp,web1,0,0,x,9\n"],
    ["an empty scur", "# pxname,svname,qcur,qmax,scur,smax\napp,web1,0,0,,9\n"],
    ["a server missing from the backend", "# pxname,svname,qcur,qmax,scur,smax\napp,web2,0,0,0,9\n"],
  ];
  for (const [what, csv] of unreadable)
    assert.throws(
      () => parseHaproxySessions(csv!, "app", ["web1"]),
      /cannot read the sessions of web1 in HAProxy backend app/,
      what,
    );
});

test("nginx connection count: anything but a number is an error, never zero", () => {
  const s = stage({
    balancer: {
      type: "nginx",
      upstream_file: "/etc/nginx/app.conf",
      servers: { web1: "10.0.0.1:80", web2: "10.0.0.2:80", web3: "10.0.0.3:80", web4: "10.0.0.4:80" },
    },
  });
  const [drain] = planDrains(s.balancer!, [["web1"]]);
  assert.equal(sessionsOf(s.balancer!, drain!, "3\n"), 3);
  for (const answer of ["", "ss: command not found\n", "-1\n"])
    assert.throws(
      () => sessionsOf(s.balancer!, drain!, answer),
      /cannot read the connections to 10.0.0.1:80/,
    );
});

test("nginx upstream file: servers and down marks round-trip", () => {
  const s = stage({
    balancer: {
      type: "nginx",
      upstream_file: "/etc/nginx/app.conf",
      servers: { web1: "10.0.0.1:80", web2: "10.0.0.2:80", web3: "[::1]:80", web4: "10.0.0.4:80" },
    },
  });
  const text = nginxUpstream(s.balancer! as Parameters<typeof nginxUpstream>[0], ["10.0.0.2:80"]);
  assert.deepEqual(
    (parseNginxUpstream(text) as ServerState[]).map((x) => `${x.name} ${x.inService}`),
    ["10.0.0.1:80 true", "10.0.0.2:80 false", "[::1]:80 true", "10.0.0.4:80 true"],
  );
});

test("nginx upstream file from a host: read in bounded time; a line without a semicolon is refused", () => {
  const many = Array.from(
    { length: 50_000 },
    (_, i) => `server 10.${i >> 16}.${(i >> 8) & 255}.${i & 255}:80;\n`,
  );
  const started = Date.now();
  const states = parseNginxUpstream(many.join(""));
  assert.equal(typeof states === "string" ? states : states.length, 50_000);
  const unended = "server 127.0.0.1:8080\n".repeat(20_000);
  // The old pattern's whitespace spanned lines: one semicolon at the end made the whole file one server.
  assert.match(
    String(parseNginxUpstream(`${unended}server 10.0.0.9:80;\n`)),
    /^line 1: "server 127\.0\.0\.1:8080" is not a server/,
  );
  // Line by line it takes milliseconds; a pattern that spans lines, or a search of the servers
  // read so far for each new one, takes seconds to minutes on such files.
  assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
});

test("blue-green: the pool in service is live; a half state is refused; the switch is one HAProxy batch", () => {
  const s = stage({
    strategy: "blue-green",
    pools: { blue: ["web1", "web2"], green: ["web3", "web4"] },
    balancer: haproxy,
  });
  const states = (inService: boolean[]) =>
    ["web1", "web2", "web3", "web4"].map((name, i) => ({ name, inService: inService[i]! }));
  assert.deepEqual(poolsOf(s.blueGreen!, s.balancer!, states([true, true, false, false])), {
    live: "blue",
    idle: "green",
  });
  assert.deepEqual(poolsOf(s.blueGreen!, s.balancer!, states([false, false, true, true])), {
    live: "green",
    idle: "blue",
  });
  assert.equal(
    poolsOf(s.blueGreen!, s.balancer!, states([true, false, false, false])),
    "the pools are partly in service",
  );
  assert.equal(
    poolsOf(s.blueGreen!, s.balancer!, states([true, true, true, true])),
    "both pools are in service",
  );
  const one = switchPools(s.blueGreen!, s.balancer!, "green");
  assert.equal(one.argv.at(-1), "silent", "a set command that answers anything fails");
  assert.equal(
    one.argv.at(-2),
    "set server app/web3 state ready; set server app/web4 state ready; set server app/web1 state drain; set server app/web2 state drain",
  );
});

test("blue-green config: a balancer and pools that hold every host exactly once", () => {
  assert.throws(
    () => stage({ strategy: "blue-green", pools: { blue: ["web1"], green: ["web2"] } }, ["web1", "web2"]),
    /blue-green needs a balancer/,
  );
  assert.throws(
    () =>
      stage(
        { strategy: "blue-green", balancer: haproxy, pools: { blue: ["web1"], green: ["web1", "web2"] } },
        ["web1", "web2"],
      ),
    /host "web1" must be in exactly one pool/,
  );
  assert.throws(
    () => stage({ pools: { blue: ["web1"], green: ["web2"] } }, ["web1", "web2"]),
    /pools are for strategy: blue-green/,
  );
  assert.equal(
    stage({ strategy: "blue-green", balancer: haproxy, pools: { blue: ["web1"], green: ["web2"] } }, [
      "web1",
      "web2",
    ]).strategy,
    "releases",
  );
});

test("balancer.probe_url: only http or https (requested through the balancer after a switch)", () => {
  const bg = { strategy: "blue-green", pools: { blue: ["web1"], green: ["web2"] } };
  for (const url of ["ftp://lb.example/", "file:///etc/passwd", "mailto:ops@example.com"])
    assert.throws(
      () => stage({ ...bg, balancer: { ...haproxy, probe_url: url } }, ["web1", "web2"]),
      /balancer\.probe_url/,
      url,
    );
  const ok = stage({ ...bg, balancer: { ...haproxy, probe_url: "https://lb.example/" } }, ["web1", "web2"]);
  assert.equal(ok.balancer!.probeUrl, "https://lb.example/");
});
