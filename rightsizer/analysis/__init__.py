"""Pure analysis: IAM grants and observed usage in, verdicts and findings with evidence out."""
