"""What an analysis leaves behind: the session folder's files, the overlay, plots and report."""
