"""Gas and Electric Utilities Servicing pages: the programme, a home, compliance, set-up."""
