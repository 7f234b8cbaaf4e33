"""CRUSH maps as text, the form `crushtool -d` prints and `crushtool -c` reads: rendered from the
JSON `ceph osd crush dump` gives (`text_render`), and read back (`text_parse`) into a structure
(`model`) checked the way crushtool checks it (`text_check`, `bounds`), with line numbers in every
reason.

Pure, and shared by the server and the collector's simulator: no files, no processes, and no
imports from the rest of calamari. Ceph compiles the text itself (the collector runs crushtool);
the parser only makes sure a bad map is refused with useful reasons before anything is sent."""
