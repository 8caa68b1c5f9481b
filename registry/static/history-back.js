// "Back" links go to the previous page when there is one (the CSP allows no inline script or javascript: links).
document.querySelectorAll("[data-history-back]").forEach(function (link) {
  link.addEventListener("click", function (event) {
    if (window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });
});
