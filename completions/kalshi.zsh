#compdef kalshi

_kalshi_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _KALSHI_COMPLETE=complete_zsh kalshi)
}

compdef _kalshi_completion kalshi
