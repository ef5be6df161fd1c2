from atlas_app.cli import main

raise SystemExit(main())
