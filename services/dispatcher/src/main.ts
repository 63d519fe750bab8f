console.log('dispatcher: not yet');
