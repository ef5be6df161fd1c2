"""The project's vocabulary, free of the database and of any framework: the statuses every table and page uses
(``statuses``) and money in pence (``money``)."""
