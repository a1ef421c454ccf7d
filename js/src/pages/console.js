// The organisers' console: live figures and charts, and the templates editor.
// Everything works without this script (the pages are plain forms); it only
// refreshes what changes while the organiser watches.

import { startLive } from '../console/live.js';
import { startTemplates } from '../console/templates.js';
import { startJoin } from '../console/join.js';

startLive(document);
startTemplates(document);
startJoin(document);
