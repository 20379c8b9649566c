// Swagger UI initialiser (kept out of the HTML so the CSP can forbid inline script).
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
