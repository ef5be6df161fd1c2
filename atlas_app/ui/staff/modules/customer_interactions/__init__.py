"""Customer Interactions pages: the contact screen."""
