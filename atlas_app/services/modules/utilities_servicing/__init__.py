"""Gas and Electric Utilities Servicing (module type ``utilities_servicing``): installations in the organisation's
homes (UPRN places) with the certificate regime of their type, checks and certificates, remedial tasks, the
servicing programme with engineers' appointments and access letters, the compliance figures, and the stock-list
import.

* ``rules``: the date rules (months, early-check anniversaries), framework-free;
* ``installations``: types, installations, checks and certificates, remedial tasks, each home's servicing state;
* ``programme``: engineers, appointments (the shared resource engine), no-access attempts and their letters;
* ``letters``: the module's letter templates and merge fields (through the letters engine);
* ``compliance``: share of homes in date, overdue, no access, the XmR chart of days from due date to certificate;
* ``imports``: the stock list by UPRN, all or nothing;
* ``storage``: content-addressed files (certificates, letters).

Every function refuses when the organisation has not turned the module type on (``require_module``).
"""

CODE = "utilities_servicing"
