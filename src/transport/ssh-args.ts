import type { SshAddress, SshSettings } from "../config/resolve.js";

/**
 * OpenSSH client options for one host. The system client is used so ~/.ssh/config, agents,
 * ProxyJump and known_hosts work as users expect. Host keys are always checked.
 */
export function sshOptions(addr: SshAddress, settings: SshSettings, controlPath: string): string[] {
  const args = [
    "-T",
    "-o",
    "BatchMode=yes",
    "-o",
    `ConnectTimeout=${settings.connectTimeoutSeconds}`,
    "-o",
    "ServerAliveInterval=15",
    "-o",
    "ServerAliveCountMax=4",
    "-o",
    `StrictHostKeyChecking=${settings.acceptNewHostKeys ? "accept-new" : "yes"}`,
    "-o",
    `ControlPath=${controlPath}`,
  ];
  if (addr.port !== undefined) args.push("-p", String(addr.port));
  if (addr.user !== undefined) args.push("-l", addr.user);
  if (addr.identityFile !== undefined) args.push("-i", addr.identityFile, "-o", "IdentitiesOnly=yes");
  for (const option of addr.options) args.push("-o", option);
  return args;
}

/**
 * The session: the connection's first process is its master, which every later command and rsync
 * reuse. With `persist`, OpenSSH moves the master into the background, where it outlives the run by
 * that many idle seconds, and the next run's session finds it at the same ControlPath (a master that
 * died leaves a socket OpenSSH recognises as stale and replaces).
 */
export function masterArgs(addr: SshAddress, settings: SshSettings, controlPath: string): string[] {
  const persist = settings.persistSeconds > 0;
  return [
    ...sshOptions(addr, settings, controlPath),
    "-o",
    persist ? "ControlMaster=auto" : "ControlMaster=yes",
    "-o",
    persist ? `ControlPersist=${settings.persistSeconds}s` : "ControlPersist=no",
    "--",
    addr.host,
    "sh -s",
  ];
}

/** A second command over the master's connection: `ssh ARGS SCRIPT` (the script is one shell word string). */
export function sideArgs(addr: SshAddress, settings: SshSettings, controlPath: string): string[] {
  return [...sshOptions(addr, settings, controlPath), "-o", "ControlMaster=no", "--", addr.host];
}

/** One word for rsync's -e parser: it splits on spaces and honours single or double quotes. */
function rsyncWord(word: string): string {
  if (!/[\s'"]/.test(word)) return word;
  if (!word.includes("'")) return `'${word}'`;
  if (!word.includes('"')) return `"${word}"`;
  throw new Error(`cannot pass ${word} to rsync -e (it has both quote characters)`);
}

export function rsyncShell(addr: SshAddress, settings: SshSettings, controlPath: string): string {
  return ["ssh", ...sshOptions(addr, settings, controlPath), "-o", "ControlMaster=no"]
    .map(rsyncWord)
    .join(" ");
}

export function rsyncHost(addr: SshAddress): string {
  return addr.host.includes(":") ? `[${addr.host}]` : addr.host;
}

/** Turns OpenSSH's diagnostics into one line that says what is wrong with which host and what to do. */
export function explainSsh(stderr: string, name: string, addr: SshAddress): string | undefined {
  const where = `${addr.user ? `${addr.user}@` : ""}${addr.host}${addr.port ? `:${addr.port}` : ""}`;
  const port = addr.port ? `-p ${addr.port} ` : "";
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED/.test(stderr)) {
    return `${name}: the host key of ${where} has CHANGED since it was recorded in known_hosts; this may be an attack, or a reinstalled server. If the change is expected: ssh-keygen -R '${addr.port ? `[${addr.host}]:${addr.port}` : addr.host}', then verify and add the new key`;
  }
  if (/Host key verification failed|No \S+ host key is known/.test(stderr)) {
    return `${name}: the host key of ${where} is not in known_hosts. Check its fingerprint, then: ssh-keyscan ${port}${addr.host} >> ~/.ssh/known_hosts (or set ssh.accept_new_host_keys: true to trust it on first use)`;
  }
  if (/Connection refused/.test(stderr))
    return `${name}: cannot connect to ${where}: connection refused (is sshd running on that port?)`;
  if (/timed out|Operation timed out/.test(stderr))
    return `${name}: cannot connect to ${where}: connection timed out (host down, or a firewall drops the port?); ssh.connect_timeout sets the limit`;
  if (/Could not resolve hostname/.test(stderr)) return `${name}: cannot resolve the host name ${addr.host}`;
  // ssh names the methods it tried ("(publickey,password)"); a command on the host says
  // "Permission denied" too, about a file ("... failed: Permission denied (13)").
  if (/Permission denied \([a-z][a-z,-]*\)|Permission denied, please try again/.test(stderr))
    return `${name}: ${where} refused our key (Permission denied); check user, identity_file and the server's authorized_keys`;
  if (/Connection closed|Connection reset|Broken pipe|closed by remote host/.test(stderr))
    return `${name}: the SSH connection to ${where} was lost`;
  return undefined;
}
