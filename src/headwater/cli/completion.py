"""`headwater completion bash|zsh|fish|powershell`: print a shell completion script.

The scripts are click's own (bash, zsh, fish): each one calls `headwater` back with
`_HEADWATER_COMPLETE=<shell>_complete` and the words typed so far, and click answers from the command
tree, including object names read from the cluster (see `headwater.cli.names`). Click has no
PowerShell script, so the one here drives the same shell-neutral protocol as bash (`bash_complete`
with `COMP_WORDS`/`COMP_CWORD`) and turns its `type,value` lines into PowerShell completion results.
"""

from __future__ import annotations

import click

PROG_NAME = "headwater"
COMPLETE_VAR = "_HEADWATER_COMPLETE"

POWERSHELL_SCRIPT = r"""# headwater completion for PowerShell.
# Load it in the current session:   headwater completion powershell | Out-String | Invoke-Expression
# Load it in every session: add the line above to your $PROFILE.
Register-ArgumentCompleter -Native -CommandName '%(prog_name)s' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $line = $commandAst.ToString()
    if ($cursorPosition -lt $line.Length) { $line = $line.Substring(0, $cursorPosition) }
    $words = @($line.Trim() -split '\s+')
    $cword = if ($line.EndsWith(' ')) { $words.Count } else { $words.Count - 1 }
    $env:COMP_WORDS = $line
    $env:COMP_CWORD = "$cword"
    $env:%(complete_var)s = 'bash_complete'
    try {
        $answers = @(& '%(prog_name)s' 2>$null)
    } finally {
        Remove-Item Env:COMP_WORDS, Env:COMP_CWORD, Env:%(complete_var)s -ErrorAction SilentlyContinue
    }
    foreach ($answer in $answers) {
        $kind, $value = $answer -split ',', 2
        if ($kind -eq 'plain' -and $value) {
            [System.Management.Automation.CompletionResult]::new($value, $value, 'ParameterValue', $value)
        }
    }
}
"""

LOAD_HINTS = {
    "bash": "source <(headwater completion bash)   # add to ~/.bashrc to keep it",
    "zsh": "source <(headwater completion zsh)    # add to ~/.zshrc to keep it",
    "fish": "headwater completion fish | source   # or save to ~/.config/fish/completions/headwater.fish",
    "powershell": "headwater completion powershell | Out-String | Invoke-Expression",
}


def script_for(shell: str) -> str:
    """The completion script of `shell` for the `headwater` command."""
    if shell == "powershell":
        return POWERSHELL_SCRIPT % {"prog_name": PROG_NAME, "complete_var": COMPLETE_VAR}
    from click.shell_completion import get_completion_class

    from headwater.cli.main import cli

    shell_class = get_completion_class(shell)
    if shell_class is None:  # pragma: no cover - every shell offered is one click knows
        raise click.UsageError(f"no completion support for {shell}")
    return shell_class(cli, {}, PROG_NAME, COMPLETE_VAR).source()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def completion() -> None:
    """Print a shell completion script (bash, zsh, fish, powershell).

    Object names (Kustomizations, GitRepositories, …) complete from the current cluster.
    """


def _shell_command(shell: str) -> click.Command:
    def command() -> None:
        click.echo(script_for(shell), nl=False)

    command.__doc__ = f"Print the {shell} completion script.\n\nLoad it with:  {LOAD_HINTS[shell]}"
    return click.command(shell)(command)


for _shell in ("bash", "zsh", "fish", "powershell"):
    completion.add_command(_shell_command(_shell))
