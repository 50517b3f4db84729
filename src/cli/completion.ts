/**
 * Shell completion scripts (bash, zsh through bashcompinit, fish): commands, network
 * subcommands, and network and container names from the state (`nftbridge completion --list`).
 */
const COMMANDS = [
  'network',
  'connect',
  'disconnect',
  'publish',
  'unpublish',
  'port',
  'ruleset',
  'apply',
  'status',
  'recover',
  'down',
  'watch',
  'graph',
  'cni',
  'completion',
  'demo',
  'sandbox',
  'help',
];
const NETWORK = ['create', 'inspect', 'ls', 'rm', 'prune'];

const BASH = `# nftbridge completion for bash: source <(nftbridge completion bash)
_nftbridge() {
  local cur=\${COMP_WORDS[COMP_CWORD]} i=1 cmd='' pos=0
  # Skip the global options and their values to find the command and the argument position.
  while [ "$i" -lt "$COMP_CWORD" ]; do
    case "\${COMP_WORDS[i]}" in
      --netns|--state-dir|--host-firewall|--mark-mask) i=$((i + 2)); continue ;;
      -*) ;;
      *) if [ -z "$cmd" ]; then cmd=\${COMP_WORDS[i]}; else pos=$((pos + 1)); fi ;;
    esac
    i=$((i + 1))
  done
  local words=''
  case "$cmd" in
    '') words='${COMMANDS.join(' ')}' ;;
    network) if [ "$pos" -eq 0 ]; then words='${NETWORK.join(' ')}'; else words=$(nftbridge completion --list networks 2>/dev/null); fi ;;
    connect|disconnect|publish|unpublish)
      if [ "$pos" -eq 0 ]; then words=$(nftbridge completion --list networks 2>/dev/null)
      elif [ "$pos" -eq 1 ]; then words=$(nftbridge completion --list containers 2>/dev/null); fi ;;
    port) [ "$pos" -eq 0 ] && words=$(nftbridge completion --list containers 2>/dev/null) ;;
    completion) words='bash zsh fish' ;;
    cni) [ "$pos" -eq 0 ] && words='install' ;;
    graph) words='--format dot mermaid' ;;
    help) words='${COMMANDS.join(' ')}' ;;
  esac
  COMPREPLY=( $(compgen -W "$words" -- "$cur") )
}
complete -F _nftbridge nftbridge
`;

const ZSH = `# nftbridge completion for zsh: source <(nftbridge completion zsh)
autoload -U +X bashcompinit && bashcompinit
${BASH}`;

const FISH = `# nftbridge completion for fish: nftbridge completion fish | source
complete -c nftbridge -f
complete -c nftbridge -n '__fish_use_subcommand' -a '${COMMANDS.join(' ')}'
complete -c nftbridge -n '__fish_seen_subcommand_from network; and not __fish_seen_subcommand_from ${NETWORK.join(' ')}' -a '${NETWORK.join(' ')}'
complete -c nftbridge -n '__fish_seen_subcommand_from inspect rm connect disconnect publish unpublish' -a '(nftbridge completion --list networks 2>/dev/null)'
complete -c nftbridge -n '__fish_seen_subcommand_from connect disconnect publish unpublish port' -a '(nftbridge completion --list containers 2>/dev/null)'
complete -c nftbridge -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'
complete -c nftbridge -n '__fish_seen_subcommand_from cni' -a 'install'
complete -c nftbridge -n '__fish_seen_subcommand_from graph' -l format -a 'dot mermaid'
complete -c nftbridge -l netns -r
complete -c nftbridge -l state-dir -r
complete -c nftbridge -l host-firewall -x -a 'auto off'
complete -c nftbridge -l mark-mask -x
complete -c nftbridge -l json
`;

export const completionScripts: Record<string, string> = { bash: BASH, zsh: ZSH, fish: FISH };
