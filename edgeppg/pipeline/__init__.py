"""`edgeppg run`: the whole pipeline as resumable stages, plus its report."""
