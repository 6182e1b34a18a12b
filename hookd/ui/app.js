// hookd dashboard: see docs/ui.md. No framework, no build step; data is rendered as text only.
"use strict";
