"""The ethics reviewer's pages. Today only the landing page, which says what will appear here:
the consent register comes with its own piece of work, and reviewers never see answers."""
