import type { Command, Option } from "commander";

/** What completion needs to know about one command, read from the commander program itself. */
export interface CommandSpec {
  readonly name: string;
  readonly options: readonly string[];
  /** Options followed by a value (never completed as a stage). */
  readonly valueOptions: readonly string[];
  /** Positional arguments in order: "stage" completes stage names, "server" and "shell" their choices. */
  readonly args: readonly string[];
  /** A command group's subcommands (`snapshot create|list|...`): the first positional word. */
  readonly subcommands: readonly string[];
}

const flags = (options: readonly Option[]) =>
  options.flatMap((o) => [o.short, o.long].filter((f): f is string => f !== undefined));

export function commandSpecs(program: Command): { global: CommandSpec; commands: CommandSpec[] } {
  // A group offers its subcommands first, then a stage; its options are those of all its subcommands.
  const spec = (c: Command, group = true): CommandSpec => {
    const subs = group ? c.commands : [];
    const options = [...c.options, ...subs.flatMap((s) => s.options)];
    return {
      name: c.name(),
      options: [...new Set(flags(options))],
      valueOptions: [...new Set(flags(options.filter((o) => o.required || o.optional)))],
      args: subs.length > 0 ? ["subcommand", "stage"] : c.registeredArguments.map((a) => a.name()),
      subcommands: subs.map((s) => s.name()),
    };
  };
  return {
    global: spec(program, false),
    commands: program.commands.filter((c) => !c.name().startsWith("__")).map((c) => spec(c)),
  };
}

/** Choices of the positional arguments that are not stages (others complete nothing). */
const CHOICES: Record<string, string> = { server: "nginx apache", shell: "bash zsh" };

/**
 * A bash completion function (zsh runs the same one through bashcompinit): commands, their options,
 * the choices of `server-config` and `completion`, and the stage and component names of the config in
 * use, which it asks `cutover __stages` and `cutover __components` for (honouring -c FILE on the line).
 */
export function completionScript(shell: "bash" | "zsh", program: Command): string {
  const { global, commands } = commandSpecs(program);
  const cases = commands
    .map((c) => `        ${c.name}) opts="${c.options.join(" ")}" values="${c.valueOptions.join(" ")}" ;;`)
    .join("\n");
  const positions = commands
    .flatMap((c) =>
      c.args.map(
        (a, i) =>
          `      ${c.name}:${i}) want="${a === "stage" ? "@stage" : a === "subcommand" ? c.subcommands.join(" ") : (CHOICES[a] ?? "")}" ;;`,
      ),
    )
    .join("\n");
  const body = `_cutover() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local commands="${commands.map((c) => c.name).join(" ")}"
  local global="${global.options.join(" ")}" global_values="${global.valueOptions.join(" ")}"
  local cmd="" config=() positional=0 i word opts="" values="" want=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    case "$word" in
      -c|--config) config=(--config "\${COMP_WORDS[i+1]}"); i=$((i + 1)); continue ;;
      -*) case " $global_values $values " in *" $word "*) i=$((i + 1)) ;; esac; continue ;;
    esac
    if [[ -z "$cmd" ]]; then
      cmd="$word"
      case "$cmd" in
${cases}
      esac
    else
      positional=$((positional + 1))
    fi
  done
  case "$prev" in
    -c|--config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --component) COMPREPLY=($(compgen -W "$(cutover "\${config[@]}" __components 2>/dev/null)" -- "$cur")); return ;;
  esac
  case " $global_values $values " in *" $prev "*) COMPREPLY=(); return ;; esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts $global" -- "$cur"))
  elif [[ -z "$cmd" ]]; then
    COMPREPLY=($(compgen -W "$commands" -- "$cur"))
  else
    case "$cmd:$positional" in
${positions}
    esac
    if [[ "$want" == @stage ]]; then
      want="$(cutover "\${config[@]}" __stages 2>/dev/null)"
    fi
    COMPREPLY=($(compgen -W "$want" -- "$cur"))
  fi
}
`;
  if (shell === "bash")
    return `# cutover completion for bash: eval "$(cutover completion bash)" in ~/.bashrc\n${body}complete -F _cutover cutover\n`;
  return `#compdef cutover\n# cutover completion for zsh: eval "$(cutover completion zsh)" in ~/.zshrc (after compinit)\nautoload -U +X bashcompinit && bashcompinit\n${body}complete -F _cutover cutover\n`;
}
