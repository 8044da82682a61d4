// Renders the API's own OpenAPI document. It is a file of its own, not an
// inline script, so that the page's Content-Security-Policy can allow
// scripts from this server only. validatorUrl: null keeps Swagger UI from
// sending the document to validator.swagger.io: the page talks to no host
// but this one.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: new URL("openapi.json", document.baseURI).href,
    dom_id: "#swagger-ui",
    validatorUrl: null,
    deepLinking: true,
    displayRequestDuration: true,
  });
});
