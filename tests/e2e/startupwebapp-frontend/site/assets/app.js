console.log("startupwebapp");
