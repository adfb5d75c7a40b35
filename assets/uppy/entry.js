// What the portal's uploader (static/js/uploader.js) needs from Uppy, as one
// global: built into static/vendor/uppy/ by `make vendor-uppy` (see build.mjs).
import Uppy from "@uppy/core";
import Dashboard from "@uppy/dashboard";
import Tus from "@uppy/tus";
import es_ES from "@uppy/locales/lib/es_ES.js";
import ru_RU from "@uppy/locales/lib/ru_RU.js";
import "@uppy/core/css/style.min.css";
import "@uppy/dashboard/css/style.min.css";

window.PortalUppy = { Uppy, Dashboard, Tus, locales: { es: es_ES, ru: ru_RU } };
