/* /docs: starts Swagger UI (static/vendor/swagger-ui-bundle.js) on the API's OpenAPI document.
 *
 * What FastAPI's get_swagger_ui_html writes as an inline <script>, kept here because the pages'
 * Content-Security-Policy runs scripts from this origin only. The URLs come from data attributes
 * of #swagger-ui (api/web/templates/swagger_ui.html); the options are FastAPI's defaults, except
 * validatorUrl: null, so Swagger UI never asks validator.swagger.io about the document.
 */
(function () {
  "use strict";

  var root = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    oauth2RedirectUrl: window.location.origin + root.getAttribute("data-oauth2-redirect-url"),
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset]
  });
})();
