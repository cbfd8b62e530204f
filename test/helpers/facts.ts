import path from "node:path/posix";
import { type HostFacts, parseFacts } from "../../src/plan/facts.js";

/**
 * The probe's NUL-separated output from readable lines, for unit tests of pure logic:
 * "current link T" (resolved against root), "release NAME" (a directory; "release link|file|other|dir
 * NAME" that kind), "meta JSON" (file named after its id, or "meta FILE JSON"), "tmp NAME", "lock ...",
 * "shared KIND PATH", "avail N", "home H", "root ok", "writable yes", "inner DIR KIND".
 */
export function probeOutput(root: string, lines: readonly string[]): string {
  const fields: string[] = ["cutover-facts", "2", "releases-real", path.join(root, "releases")];
  for (const line of lines) {
    const [key, ...words] = line.split(" ");
    const rest = words.join(" ");
    switch (key) {
      case "current":
        if (words[0] === "link") {
          const target = words.slice(1).join(" ");
          fields.push("current", "link", target, path.resolve(root, target));
        } else fields.push("current", rest);
        break;
      case "release":
        if (words[0] === "link" || words[0] === "file" || words[0] === "other" || words[0] === "dir")
          fields.push("release", words[0], words.slice(1).join(" "));
        else fields.push("release", "dir", rest);
        break;
      case "meta":
        if (rest.startsWith("{")) {
          let id = "x";
          try {
            id = (JSON.parse(rest) as { id: string }).id;
          } catch {}
          fields.push("meta", `${id}.json`, rest);
        } else fields.push("meta", words[0]!, words.slice(1).join(" "));
        break;
      case "lock":
        if (words[0] === "acquired") fields.push("lock", "acquired");
        else fields.push("lock", words[0]!, words.slice(1).join(" "));
        break;
      case "shared":
      case "inner":
        fields.push(key, words[0]!, words.slice(1).join(" "));
        break;
      default:
        fields.push(key!, rest);
    }
  }
  return `${fields.join("\0")}\0`;
}

export function hostFacts(root: string, lines: readonly string[], lockRequested = false): HostFacts {
  return parseFacts(root, probeOutput(root, lines), lockRequested);
}
