"""The Reflex user interface: reusable components and one module per page (with its state)."""
